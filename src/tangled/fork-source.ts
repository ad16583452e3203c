/**
 * Where a fork's files are read: the fork is a repo DID; if this spindle tracks it, its knot is
 * known; otherwise the fork's DID document names its knot (`#tangled_knot`), which must be a
 * public host (src/net/public-hosts.ts). Used by manual runs of fork pull requests and by
 * describeWorkflowDefinition.
 */
import { IdentityError, type IdentityResolver } from "../atproto/identity.ts";
import type { PublicHosts } from "../net/public-hosts.ts";
import type { Membership } from "./membership.ts";
import { type RepoAtKnot, repoAtKnot } from "./workflow-files.ts";

/** The fork cannot be located; `retryable` when asking again later may help. */
export class ForkSourceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export async function forkAtKnot(
  fork: string,
  deps: { membership: Membership; identities: IdentityResolver; publicHosts: PublicHosts },
): Promise<RepoAtKnot> {
  const tracked = deps.membership.repoByDid(fork);
  if (tracked) return repoAtKnot(tracked);
  try {
    const { knot } = await deps.identities.resolve(fork);
    if (!knot) throw new ForkSourceError(`sourceRepo ${fork} names no knot`, false);
    // The DID document is the fork owner's to write: its knot may name any address.
    const refusal = await deps.publicHosts.refusal(knot);
    if (refusal) {
      throw new ForkSourceError(
        `sourceRepo ${fork} names knot ${knot}, which this spindle does not call: ${refusal}`,
        false,
      );
    }
    return { knot, ref: { repoDid: fork } };
  } catch (error) {
    if (error instanceof IdentityError) {
      throw new ForkSourceError(`sourceRepo: ${error.message}`, error.retryable);
    }
    throw error;
  }
}
