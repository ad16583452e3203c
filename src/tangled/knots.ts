/**
 * Follows the /events stream of every knot that hosts a repo using this spindle:
 * one reconnecting consumer per knot, `wss://<knot>/events`
 * (`ws://` in dev mode).
 *
 * Knot frames carry no `created`, but their rkeys are TIDs the knot minted just before it
 * stored the event, on the same clock as `created`. The cursor stored per knot is therefore the
 * time of the newest TID handled (Unix ns), and a reconnect asks for events after it minus a
 * rewind. Unlike the upstream spindle, which stores its own clock at dequeue, this follows the
 * knot's timeline: a backlog interrupted half-way resumes where it stopped, and clock skew
 * between tack and the knot does not matter. Replays are harmless: every handler de-duplicates
 * (pushes on repo, ref and commit; knot pipelines on knot and rkey). The cursor is saved only
 * after the frame's handler is done with it (its effect durable, or the frame refused), so a
 * crash in between replays the frame instead of losing it.
 *
 * A backlog arrives as runs of frames (see ws-client.ts). The handlers of a run start in frame
 * order without waiting for one another, so their writes queue in that order and share one
 * commit; the cursor then moves past the whole run in one more commit, once every handler of
 * the run is done. If any handler fails, the cursor stays where it was and the run comes again
 * after the reconnect (replays are harmless, as above).
 *
 * A knot no longer followed forgets its cursor: if it is followed again later, it starts live
 * rather than replaying pushes made while this spindle was not in charge of its repos.
 */
import { Value } from "@sinclair/typebox/value";
import type { Writer } from "../db/writer.ts";
import { decodeTid, isTid } from "../eventlog/tid.ts";
import type { Logger } from "../log.ts";
import type { Cursors } from "./cursors.ts";
import { KnotFrame } from "./lexicons.ts";
import { ReconnectingStream, type StreamOptions } from "./ws-client.ts";

/**
 * How far back (ns) a reconnect asks before the stored cursor: enough to cover the gap
 * between a TID being minted and its event being stored, and events stored out of TID order.
 */
export const KNOT_REWIND_NS = 2_000_000_000n;
/** TIDs dated further ahead of this host's clock than this do not move the cursor. */
const MAX_FUTURE_MS = 10 * 60_000;

export type KnotEventHandler = (knot: string, rkey: string, event: unknown) => Promise<unknown>;

export interface KnotStreamsDeps {
  dev: boolean;
  writer: Writer;
  cursors: Cursors;
  /**
   * What to do with each kind of event, by NSID (others are ignored). A handler resolves once
   * the event's effect is durable; only then does the knot's cursor move past it.
   */
  handlers: ReadonlyMap<string, KnotEventHandler>;
  log: Logger;
  stream?: Partial<Omit<StreamOptions, "url" | "onMessage" | "onMessages" | "log">>;
}

const KNOT_CURSOR_PREFIX = "knot:";

export function knotCursorSource(knot: string): string {
  return `${KNOT_CURSOR_PREFIX}${knot}`;
}

export class KnotStreams {
  private readonly streams = new Map<string, ReconnectingStream>();

  constructor(private readonly deps: KnotStreamsDeps) {}

  /** Follows exactly `knots`: starts the new ones, stops the ones no repo points at any more. */
  sync(knots: string[]): void {
    const wanted = new Set(knots);
    for (const [knot, stream] of this.streams) {
      if (wanted.has(knot)) continue;
      this.streams.delete(knot);
      this.deps.log.info("knots: no longer following", { knot });
      void stream.stop();
    }
    const stale = this.deps.cursors
      .sources(KNOT_CURSOR_PREFIX)
      .filter((source) => !wanted.has(source.slice(KNOT_CURSOR_PREFIX.length)));
    if (stale.length > 0) {
      void this.deps.writer
        .write((tx) => {
          for (const source of stale) this.deps.cursors.forget(tx, source);
        })
        .catch((error: unknown) =>
          this.deps.log.error("knots: cannot forget cursors", { err: error }),
        );
    }
    for (const knot of wanted) {
      if (this.streams.has(knot)) continue;
      const stream = this.create(knot);
      this.streams.set(knot, stream);
      this.deps.log.info("knots: following", { knot });
      stream.start();
    }
  }

  /** The stored cursor of a knot (Unix ns on the knot's timeline), if any. */
  cursorOf(knot: string): bigint | undefined {
    return this.deps.cursors.get(knotCursorSource(knot));
  }

  /** Followed knots and whether each is connected right now. */
  status(): { knot: string; connected: boolean }[] {
    return [...this.streams].map(([knot, stream]) => ({ knot, connected: stream.connected }));
  }

  async stop(): Promise<void> {
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(streams.map((stream) => stream.stop()));
  }

  private create(knot: string): ReconnectingStream {
    const log = this.deps.log.child({ component: "knot", knot });
    const source = knotCursorSource(knot);
    return new ReconnectingStream({
      ...this.deps.stream,
      log,
      url: () => {
        const url = new URL(`${this.deps.dev ? "ws" : "wss"}://${knot}/events`);
        const cursor = this.deps.cursors.get(source);
        // No stored cursor: live only, as the upstream spindle does for a new knot.
        if (cursor !== undefined && cursor > 0n) {
          const rewound = cursor - KNOT_REWIND_NS;
          url.searchParams.set("cursor", String(rewound > 0n ? rewound : 1n));
        }
        return url.toString();
      },
      onMessages: async (frames) => {
        const settled = await Promise.allSettled(
          frames.map((data) => this.handle(knot, data, log)),
        );
        let position: bigint | undefined;
        for (const outcome of settled) {
          if (outcome.status === "rejected") throw outcome.reason;
          if (outcome.value !== undefined && (position === undefined || outcome.value > position))
            position = outcome.value;
        }
        if (position === undefined) return;
        const newest = position;
        await this.deps.writer.write((tx) => {
          const stored = this.deps.cursors.get(source) ?? 0n;
          if (newest > stored) this.deps.cursors.save(tx, source, newest);
        });
      },
    });
  }

  /** Handles one frame; returns its position on the knot's timeline (Unix ns) when known. */
  private async handle(knot: string, data: string, log: Logger): Promise<bigint | undefined> {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      log.warn("knot: skipping a frame that is not JSON", { bytes: data.length });
      return undefined;
    }
    if (!Value.Check(KnotFrame, frame)) {
      log.warn("knot: skipping a frame without rkey, nsid and event");
      return undefined;
    }
    await this.deps.handlers.get(frame.nsid)?.(knot, frame.rkey, frame.event);
    if (!isTid(frame.rkey)) return undefined;
    const position = decodeTid(frame.rkey).micros * 1_000n;
    // A TID from the future (a broken knot clock) must not push the cursor past real events.
    return position <= BigInt(Date.now() + MAX_FUTURE_MS) * 1_000_000n ? position : undefined;
  }
}
