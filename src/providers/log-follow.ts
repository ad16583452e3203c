/**
 * The follow loop every polling log reader shares (GitHub, GitLab, sourcehut): the reader knows
 * how to take one look at its build; this decides when to look again and what a failed look
 * means, so those rules are the same for every provider.
 *
 * It subscribes to the build's tracker only once the stream is consumed (an upgrade that never
 * happens leaves nothing subscribed), looks again after the follow interval or at once when the
 * tracker applied news about the build, retries a failed look up to MAX_FAILURES times in a row
 * (each logged as a warning) before failing the stream, and unsubscribes however the stream ends.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { WorkflowId } from "../pipeline/workflows.ts";
import { pause } from "./pause.ts";
import type { LogLine } from "./provider.ts";

/** Consecutive failed looks after which the stream fails instead of retrying. */
const MAX_FAILURES = 5;

/** A provider's log reader, as the follower drives it. */
export interface LogLooks {
  /** The lines that became visible since the last look; a look that throws changed nothing. */
  look(): Promise<LogLine[]>;
  /** True once the stream has shown everything it will. */
  readonly done: boolean;
}

/** A build as far as news about it goes: the tracker's listeners are keyed by correlation id. */
export interface TrackedBuild {
  correlationId: string;
}

export interface LogFollowDeps {
  /** Names the provider in the warning logged for a failed look ("github logs: …"). */
  provider: string;
  workflow: WorkflowId;
  log: Logger;
  clock: Clock;
  signal: AbortSignal;
  /** The wait before the next look, asked before each wait (it may depend on the API budget). */
  intervalMs: () => number;
  /** The tracker's subscribe: calls `listener` after anything is applied to the build. */
  subscribe: (correlationId: string, listener: () => void) => () => void;
  /** An error that fails the stream at once instead of being retried. */
  fatal?: (error: unknown) => boolean;
}

export class LogFollower {
  private following = false;
  private dirty = false;
  private wakeUp: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: LogFollowDeps) {}

  /**
   * To be called as a look begins, with the build it looks at: news that arrives from here on
   * asks for another look, and a build that just became known is subscribed to.
   */
  beginLook(build: TrackedBuild | undefined): void {
    this.dirty = false;
    this.listen(build);
  }

  /** Yields `first` (the look taken before the upgrade), then each further look's lines. */
  async *follow(
    first: LogLine[],
    reader: LogLooks,
    build: () => TrackedBuild | undefined,
  ): AsyncGenerator<LogLine> {
    const { signal, workflow } = this.deps;
    // Subscribed only once the stream is consumed: an upgrade that never happens leaves nothing.
    this.following = true;
    this.listen(build());
    try {
      yield* first;
      let failures = 0;
      while (!reader.done && !signal.aborted) {
        await this.nextLook();
        if (signal.aborted) return;
        let lines: LogLine[];
        try {
          lines = await reader.look();
          failures = 0;
        } catch (error) {
          if (this.deps.fatal?.(error) || ++failures >= MAX_FAILURES) throw error;
          this.deps.log.warn(`${this.deps.provider} logs: look failed, retrying`, {
            err: error,
            knot: workflow.knot,
            pipeline_rkey: workflow.pipelineRkey,
            workflow: workflow.name,
          });
          continue;
        }
        yield* lines;
      }
    } finally {
      this.unsubscribe?.();
    }
  }

  private listen(build: TrackedBuild | undefined): void {
    if (!build || !this.following || this.unsubscribe) return;
    this.unsubscribe = this.deps.subscribe(build.correlationId, () => this.poke());
  }

  private poke(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /** Waits for the follow interval (on tack's clock), a poke, or the end of the stream. */
  private async nextLook(): Promise<void> {
    if (this.dirty) return;
    const poked = new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
    await Promise.race([pause(this.deps.clock, this.deps.intervalMs(), this.deps.signal), poked]);
    this.wakeUp = undefined;
  }
}
