/**
 * A local Jetstream on 127.0.0.1 speaking its plain-JSON wire format:
 * `GET /subscribe?wantedCollections=…&cursor=<µs>`, one text frame per event,
 * `{"did","time_us","kind":"commit","commit":{"rev","operation","collection","rkey","record","cid"}}`.
 * With a cursor it replays retained events from that time on, then live; without, live only.
 */
import { StreamStandIn } from "./stream-stand-in.ts";
import { newTid, sortedJson } from "./wire.ts";

export class FakeJetstream extends StreamStandIn {
  readonly events: { time_us: number; frame: string }[] = [];
  private lastUs = 0;

  private constructor() {
    super("/subscribe");
  }

  static start(): FakeJetstream {
    return new FakeJetstream();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.server.port}/subscribe`;
  }

  /** Emits a commit event now; returns its time_us. */
  commit(
    did: string,
    collection: string,
    operation: "create" | "update" | "delete",
    rkey: string,
    record?: unknown,
  ): number {
    this.lastUs = Math.max(Date.now() * 1000, this.lastUs + 1);
    const event = {
      did,
      time_us: this.lastUs,
      kind: "commit",
      commit: {
        rev: newTid(),
        operation,
        collection,
        rkey,
        ...(operation === "delete"
          ? {}
          : { record, cid: "bafyreibogusbogusbogusbogusbogusbogusbogusbogusbogus" }),
      },
    };
    const frame = sortedJson(event);
    this.events.push({ time_us: this.lastUs, frame });
    this.broadcast(frame);
    return this.lastUs;
  }

  protected framesAfter(cursor: string): string[] {
    return this.events
      .filter((event) => event.time_us >= Number(cursor))
      .map((event) => event.frame);
  }
}
