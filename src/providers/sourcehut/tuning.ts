/**
 * How often and how hard the sourcehut provider talks to builds.sr.ht. Production uses the
 * defaults; tests pass shorter ones. Every wait is on the injected clock.
 */
import { DEFAULT_HTTP_TUNING, type HttpTuning } from "../http-client.ts";

export interface SourcehutTuning {
  http: HttpTuning;
  /** The first poll after a submit, and the interval again after every change seen. */
  minPollMs: number;
  /** The longest interval between polls of a job that does not change. */
  maxPollMs: number;
  /** The interval grows by this factor after each poll that saw no change. */
  pollGrowth: number;
  /** While a cancel waits for its queued job to start, the job is polled this often. */
  cancelWatchMs: number;
  /** Jobs asked about in one GraphQL request. */
  pollBatch: number;
  /** The poller's longest sleep when nothing is due (new work wakes it anyway). */
  idleWakeMs: number;
  /** How long after a submit builds.sr.ht may still leave the new job out of its list. */
  listDelayMs: number;
  /** Submits tried at most after unclear failures, each after looking for the previous one. */
  maxSubmits: number;
  /** How far before a submit (sourcehut's clock) a search looks, for clock skew. */
  clockSkewMs: number;
  /** Pages of the job list a search reads at most (sourcehut lists 25 a page). */
  findPages: number;
  /** A submit whose job is still not found after this long is given up on. */
  discoveryTimeoutMs: number;
  /** A job that shows no change for this long is given up on (its workflow fails). */
  abandonAfterMs: number;
  /** How often a live /logs stream looks at the job when nothing woke it first. */
  logFollowIntervalMs: number;
  /** Bytes of a log asked for per request. */
  logChunkBytes: number;
  /** A completion nudge polls its job at most this often. */
  nudgeGapMs: number;
}

export const DEFAULT_SOURCEHUT_TUNING: SourcehutTuning = {
  http: DEFAULT_HTTP_TUNING,
  minPollMs: 5_000,
  maxPollMs: 60_000,
  pollGrowth: 1.5,
  cancelWatchMs: 5_000,
  pollBatch: 25,
  idleWakeMs: 60_000,
  listDelayMs: 5_000,
  maxSubmits: 3,
  clockSkewMs: 5 * 60_000,
  findPages: 8,
  discoveryTimeoutMs: 10 * 60_000,
  abandonAfterMs: 24 * 60 * 60_000,
  logFollowIntervalMs: 3_000,
  logChunkBytes: 1024 * 1024,
  nudgeGapMs: 5_000,
};
