/**
 * How a build gets its repo's secrets without their values ever passing through its CI's API
 * or UI: each build is handed `TACK_SECRETS_URL` and a one-time `TACK_SECRETS_TOKEN` (see
 * src/secrets/tokens.ts), and fetches the secrets from tack itself, once.
 */

import { Value } from "@sinclair/typebox/value";
import type { Clock } from "../clock.ts";
import type { StoredWorkflow } from "../pipeline/workflows.ts";
import { TriggerMetadata } from "../tangled/lexicons.ts";
import type { SecretTokens } from "./tokens.ts";

export class SecretsDelivery {
  constructor(
    private readonly deps: {
      tokens: SecretTokens;
      clock: Clock;
      /** The public URL builds fetch from, e.g. https://spindle.example.com/secrets. */
      url: string;
    },
  ) {}

  /**
   * The variables a workflow's build receives: the fetch URL and a fresh one-time token, for
   * repos with a repo DID (secrets belong to repo DIDs); none for others.
   */
  async variablesFor(workflow: StoredWorkflow): Promise<Record<string, string>> {
    const trigger = Value.Check(TriggerMetadata, workflow.context) ? workflow.context : undefined;
    const repoDid = trigger?.repo.repoDid;
    if (!repoDid) return {};
    const token = await this.deps.tokens.mint(
      {
        knot: workflow.id.knot,
        pipelineRkey: workflow.id.pipelineRkey,
        workflow: workflow.id.name,
        repoDid,
      },
      this.deps.clock.now(),
    );
    return { TACK_SECRETS_URL: this.deps.url, TACK_SECRETS_TOKEN: token };
  }
}
