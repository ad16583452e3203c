/**
 * publish(nsid, record): commit the event, then wake /events subscribers.
 *
 * Ordering contract: a row is fanned out from the writer's onCommit hook, synchronously right
 * after COMMIT and in commit order, over one Bun pub/sub topic. A subscriber joins that topic
 * in the same synchronous step in which its last backlog page came back short
 * (src/http/events.ts), so every committed row reaches it exactly once: from the page if it
 * was committed before the read, from the topic if after.
 */
import type { OnCommit, Tx, Writer } from "../db/writer.ts";
import type { JsonValue } from "./canonical-json.ts";
import { type EventRow, encodeFrame } from "./envelope.ts";
import type { EventStore } from "./store.ts";

export const TOPIC_EVENTS = "events";

/** The part of Bun's Server the broker needs: topic fan-out. */
export interface TopicPublisher {
  publish(topic: string, data: string): number;
}

export class Broker {
  private publisher: TopicPublisher | undefined;
  /** Wall-clock ms of the last live fan-out; /events uses it to ping only idle sockets. */
  lastBroadcastAt = 0;
  /** `created` of the last live fan-out: a live subscriber closed now resumes after it. */
  lastBroadcastCreated = 0n;
  /** Called after each commit (metrics). */
  onPublish: (nsid: string) => void = () => {};

  constructor(
    private readonly writer: Writer,
    readonly store: EventStore,
  ) {}

  /** Called once the HTTP server listens; until then rows are only stored. */
  attach(publisher: TopicPublisher | undefined): void {
    this.publisher = publisher;
  }

  /** Resolves after the event is committed; subscribers have been handed the frame by then. */
  publish(nsid: string, record: { [key: string]: JsonValue }): Promise<EventRow> {
    return this.writer.write((tx, onCommit) => this.appendInTx(tx, onCommit, nsid, record));
  }

  /** For callers that must commit an event atomically with their own rows. */
  appendInTx(
    tx: Tx,
    onCommit: OnCommit,
    nsid: string,
    record: { [key: string]: JsonValue },
    stamps?: { rkey?: string },
  ): EventRow {
    const row = this.store.append(tx, nsid, record, stamps);
    onCommit(() => this.broadcast(row));
    return row;
  }

  private broadcast(row: EventRow): void {
    this.onPublish(row.nsid);
    this.lastBroadcastAt = Date.now();
    this.lastBroadcastCreated = row.created;
    this.publisher?.publish(TOPIC_EVENTS, encodeFrame(row));
  }
}
