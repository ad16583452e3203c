/**
 * Creates a workflow's build on its CI at most once, whatever happens around the one
 * non-idempotent request (docs/design.md, *Nothing lost, nothing twice*).
 *
 * Every create is recorded in spawn_attempts before it is sent. When an earlier attempt exists
 * (tack died after sending it, or its answer was unclear: a timeout, a 5xx, a reset
 * connection), the build is first looked up by its correlation key, and a CI that lists new
 * builds only after a delay is given until `listDelayMs` after that attempt before tack
 * concludes there is none. A lookup that fails outright stops the spawn: tack cannot tell, so it
 * does not create a second build.
 */
import type { Clock } from "../clock.ts";
import type { WorkflowId } from "../pipeline/workflows.ts";
import { ApiError } from "./http-client.ts";
import { pause } from "./pause.ts";
import type { SpawnAttempts } from "./spawn-attempts.ts";

export interface CreatePlan<B> {
  /** The workflow's build on the CI, found by its correlation key; undefined if none is listed. */
  find(): Promise<B | undefined>;
  /** The non-idempotent create request. */
  create(): Promise<B>;
}

export interface CreateOnceDeps {
  provider: string;
  /** The CI's name for messages. */
  api: string;
  attempts: SpawnAttempts;
  clock: Clock;
  /** How long after a create the CI may still not list the new build. */
  listDelayMs: number;
  /** Creates tried at most (each after looking for the previous one). */
  maxAttempts: number;
  /** First wait between lookups and between attempts; doubles. */
  backoffMs: number;
  signal?: AbortSignal;
}

export async function createOnce<B>(
  deps: CreateOnceDeps,
  id: WorkflowId,
  plan: CreatePlan<B>,
): Promise<B> {
  for (let attempt = 1; ; attempt++) {
    const previous = await deps.attempts.begin(deps.provider, id, deps.clock.now());
    if (previous !== undefined) {
      let found: B | undefined;
      try {
        found = await findWithin(plan.find, { ...deps, deadline: previous + deps.listDelayMs });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `could not check whether ${deps.api} already has this workflow's build, so none was created again: ${reason}`,
          { cause: error },
        );
      }
      if (found !== undefined) return found;
    }
    try {
      return await plan.create();
    } catch (error) {
      if (!(error instanceof ApiError) || !error.ambiguous) throw error;
      if (attempt >= deps.maxAttempts) {
        throw new Error(
          `${error.message}; gave up after ${attempt} attempts, none of which ${deps.api} lists`,
          { cause: error },
        );
      }
      await pause(deps.clock, deps.backoffMs * 2 ** (attempt - 1), deps.signal);
    }
  }
}

/**
 * Looks until found or until `deadline` (tack's clock) has passed, backing off between looks;
 * always looks at least once. A failing look throws.
 */
export async function findWithin<B>(
  find: () => Promise<B | undefined>,
  deps: { clock: Clock; deadline: number; backoffMs: number; signal?: AbortSignal },
): Promise<B | undefined> {
  for (let look = 0; ; look++) {
    const found = await find();
    if (found !== undefined) return found;
    const left = deps.deadline - deps.clock.now();
    if (left <= 0 || deps.signal?.aborted) return undefined;
    await pause(deps.clock, Math.min(left, deps.backoffMs * 2 ** look), deps.signal);
  }
}
