/**
 * The /events wire frame: `{"created":<ns>,"event":{…},"nsid":"…","rkey":"<TID>"}`.
 * Keys are sorted as the upstream spindle sorts them. `created` is the event's Unix-ns stamp
 * written as exact integer text (docs/design.md, *Cursors are nanoseconds*): it is the value a
 * client passes back as ?cursor=. Consumers that parse it into a float lose precision; the appview
 * ignores it and sends its own clock instead.
 */
import { type Static, Type } from "@sinclair/typebox";

export const EventFrame = Type.Object({
  created: Type.Union([Type.Number(), Type.BigInt()]),
  event: Type.Record(Type.String(), Type.Unknown()),
  nsid: Type.String(),
  rkey: Type.String(),
});
export type EventFrame = Static<typeof EventFrame>;

export interface EventRow {
  created: bigint;
  rkey: string;
  nsid: string;
  /** The record, already canonical JSON text. */
  event: string;
}

export function encodeFrame(row: EventRow): string {
  return `{"created":${row.created},"event":${row.event},"nsid":${JSON.stringify(row.nsid)},"rkey":${JSON.stringify(row.rkey)}}`;
}
