/**
 * A reconciler's passes, one at a time: the periodic loop, a pass asked for at start and one a
 * poll asked for all touch the same rows, so each waits for the one before it. A pass that
 * fails is logged and the next still runs; shutdown waits for the loop and the queued passes.
 * GitHub's and GitLab's reconcilers and sourcehut's poller share it.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { pause } from "./pause.ts";

export class SerialPasses {
  private chain: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      clock: Clock;
      log: Logger;
      /** Ends the periodic loop. */
      signal: AbortSignal;
      /** The error logged for a pass that threw ("github reconcile: pass failed"). */
      failed: string;
    },
  ) {}

  /** Queues `pass` after any under way (never two at once); resolves when it has run. */
  queue(pass: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(() =>
      pass().catch((error: unknown) => {
        this.deps.log.error(this.deps.failed, { err: error });
      }),
    );
    return this.chain;
  }

  /** Queues `pass` every `intervalMs` (on tack's clock) until the signal aborts; once only. */
  every(intervalMs: number, pass: () => Promise<void>): void {
    const { clock, signal } = this.deps;
    this.loop ??= (async () => {
      while (!signal.aborted) {
        await pause(clock, intervalMs, signal);
        if (!signal.aborted) await this.queue(pass);
      }
    })();
  }

  /** Resolves once the loop and every queued pass have finished (after the signal aborted). */
  async stopped(): Promise<void> {
    await Promise.all([this.loop, this.chain]);
  }
}
