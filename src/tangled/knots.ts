/**
 * Follows the /events stream of every knot that hosts a repo using this spindle
 * (tangled-protocol.md §3): one reconnecting consumer per knot, `wss://<knot>/events`
 * (`ws://` in dev mode).
 *
 * Knot frames carry no `created`, so, like the upstream spindle, the cursor stored per knot is
 * this process's clock (Unix ns) when a frame was handled; a reconnect asks for events after
 * that minus a rewind for clock skew. Replays are harmless: triggers are de-duplicated on
 * (knot, rkey). The cursor is saved only after the frame's trigger was durably accepted or
 * rejected, so a crash in between replays the frame instead of losing it.
 */
import { Value } from "@sinclair/typebox/value";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { TriggerProcessor } from "../pipeline/trigger.ts";
import type { Cursors } from "./cursors.ts";
import { KnotFrame, NSID_PIPELINE } from "./lexicons.ts";
import { ReconnectingStream, type StreamOptions } from "./ws-client.ts";

/** How far back (ns) a reconnect asks before the stored cursor. */
export const KNOT_REWIND_NS = 5_000_000_000n;

export interface KnotStreamsDeps {
  dev: boolean;
  writer: Writer;
  cursors: Cursors;
  triggers: TriggerProcessor;
  log: Logger;
  stream?: Partial<Omit<StreamOptions, "url" | "onMessage" | "log">>;
}

export function knotCursorSource(knot: string): string {
  return `knot:${knot}`;
}

export class KnotStreams {
  private readonly streams = new Map<string, ReconnectingStream>();
  private lastNs = 0n;

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
    for (const knot of wanted) {
      if (this.streams.has(knot)) continue;
      const stream = this.create(knot);
      this.streams.set(knot, stream);
      this.deps.log.info("knots: following", { knot });
      stream.start();
    }
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
      onMessage: async (data) => {
        await this.handle(knot, data, log);
        const now = this.nowNs();
        await this.deps.writer.write((tx) => this.deps.cursors.save(tx, source, now));
      },
    });
  }

  private async handle(knot: string, data: string, log: Logger): Promise<void> {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      log.warn("knot: skipping a frame that is not JSON", { bytes: data.length });
      return;
    }
    if (!Value.Check(KnotFrame, frame)) {
      log.warn("knot: skipping a frame without rkey, nsid and event");
      return;
    }
    if (frame.nsid !== NSID_PIPELINE) return;
    await this.deps.triggers.accept(knot, frame.rkey, frame.event);
  }

  /** Unix ns, strictly increasing within this process. */
  private nowNs(): bigint {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastNs = now > this.lastNs ? now : this.lastNs + 1n;
    return this.lastNs;
  }
}
