/**
 * A local knot on 127.0.0.1 serving `GET /events` as a knot does:
 * frames `{"event":{…},"nsid":"…","rkey":"<TID>"}` with sorted keys and no `created`;
 * `?cursor=<ns>` replays events created after it, then live; no cursor means live only.
 */
import { StreamStandIn } from "./stream-stand-in.ts";
import { newTid, sortedJson } from "./wire.ts";

export class FakeKnot extends StreamStandIn {
  readonly events: { created: bigint; frame: string }[] = [];
  private lastNs = 0n;

  private constructor() {
    super("/events");
  }

  static start(): FakeKnot {
    return new FakeKnot();
  }

  /** The knot's hostname as repos and triggers name it. */
  get host(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  /** Appends an event to the knot's log and sends it to live subscribers; returns its rkey. */
  push(nsid: string, event: unknown, rkey: string = newTid()): string {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastNs = now > this.lastNs ? now : this.lastNs + 1n;
    const frame = sortedJson({ event, nsid, rkey });
    this.events.push({ created: this.lastNs, frame });
    this.broadcast(frame);
    return rkey;
  }

  protected framesAfter(cursor: string): string[] {
    return this.events
      .filter((event) => event.created > BigInt(cursor))
      .map((event) => event.frame);
  }
}
