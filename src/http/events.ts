/**
 * GET /events (WebSocket) — the status stream the Tangled appview consumes.
 *
 * Contract (docs/design.md, *Cursors are nanoseconds*):
 * - `?cursor=N` (Unix ns) sends every retained event with created > N, oldest first, then live
 *   events as they commit. Absent, `0`, negative or unparsable: replay from the start (the
 *   appview de-duplicates by rkey). One frame per event, see eventlog/envelope.ts.
 * - The backlog is drained page after page, never one page per wake-up. Between pages the
 *   handler yields to the event loop, and it stops while the socket's send buffer is over
 *   BACKFILL_HIGH_WATER, resuming on `drain`: memory per subscriber stays bounded.
 * - Catch-up handoff: the page that comes back short and the subscription to the live topic
 *   happen in one synchronous step, and the broker fans rows out synchronously on commit, so
 *   no event is lost or sent twice across the switch (see eventlog/broker.ts).
 * - A live subscriber that cannot keep up is closed by Bun once its buffer passes the
 *   server's backpressure limit (closeOnBackpressureLimit); one stuck in backfill for
 *   STALL_TIMEOUT is closed with 1013 and a reason carrying its resume cursor. Either way it
 *   resumes by cursor and nobody else waits for it.
 * - All subscribers' unsent frames together stay under `bufferCapBytes` (TACK_EVENTS_BUFFER_CAP,
 *   64 MiB by default; checked four times a second): beyond it the subscribers whose buffers
 *   have been backed up longest are closed with 1013 and their resume cursor until the rest fit,
 *   and one that has not gone a moment later is cut, since its unsent frames are only freed
 *   with the connection.
 * - A ping goes out after `pingIntervalMs` (30 s) without a frame.
 */
import type { ServerWebSocket } from "bun";
import { Elysia, t } from "elysia";
import { TOPIC_EVENTS } from "../eventlog/broker.ts";
import { encodeFrame } from "../eventlog/envelope.ts";
import type { EventStore } from "../eventlog/store.ts";
import type { Logger } from "../log.ts";
import type { OpenSockets } from "./sockets.ts";

const PAGE_SIZE = 500;
/** Pages sent back to back before yielding the event loop to other connections. */
const PAGES_PER_TURN = 4;
const BACKFILL_HIGH_WATER = 1 << 20;

export interface EventsOptions {
  pingIntervalMs: number;
  stallTimeoutMs: number;
  bufferCapBytes: number;
  /** How often the send buffers are summed against the cap. */
  capCheckMs: number;
}

export const DEFAULT_EVENTS_OPTIONS: EventsOptions = {
  pingIntervalMs: 30_000,
  stallTimeoutMs: 60_000,
  bufferCapBytes: 64 << 20,
  capCheckMs: 250,
};

/** How long a subscriber closed over the cap may take to go before it is cut. */
const CUT_AFTER_MS = 2_000;

interface Subscriber {
  ws: ServerWebSocket<unknown>;
  cursor: bigint;
  live: boolean;
  closed: boolean;
  lastSentAt: number;
  /** Set while backfill waits for `drain`. */
  blockedSince: number | undefined;
  /** Since when its send buffer has not been empty at a check (the stalest go first). */
  backedUpSince: number | undefined;
}

export function eventsRoutes(deps: {
  store: EventStore;
  /** Wall-clock ms of the last live fan-out (Broker.lastBroadcastAt). */
  lastBroadcastAt: () => number;
  /** `created` of the last live fan-out: where a live subscriber closed now resumes. */
  lastBroadcastCreated: () => bigint;
  sockets: OpenSockets;
  log: Logger;
  options?: Partial<EventsOptions>;
}) {
  const options = { ...DEFAULT_EVENTS_OPTIONS, ...deps.options };
  const log = deps.log.child({ route: "events" });
  const subscribers = new Map<string, Subscriber>();
  let timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Sends up to PAGES_PER_TURN pages; true when more remain for another turn. Corked: a page
   * leaves in a few large writes instead of one syscall per frame (the sends of a backfill
   * happen outside any WebSocket handler, where Bun would not cork them itself).
   */
  const sendPages = (sub: Subscriber): boolean => {
    for (let page = 0; page < PAGES_PER_TURN; page++) {
      if (sub.closed || sub.live) return false;
      const rows = deps.store.after(sub.cursor, PAGE_SIZE);
      for (const row of rows) {
        if (sub.ws.send(encodeFrame(row)) === 0) return false; // dropped: the socket is closing
        sub.cursor = row.created;
        if (sub.ws.getBufferedAmount() > BACKFILL_HIGH_WATER) {
          sub.lastSentAt = Date.now();
          sub.blockedSince = sub.lastSentAt;
          return false; // `drain` resumes from the cursor
        }
      }
      if (rows.length > 0) sub.lastSentAt = Date.now();
      if (rows.length < PAGE_SIZE) {
        // Caught up. Same synchronous step as the read above: see the contract.
        sub.ws.subscribe(TOPIC_EVENTS);
        sub.live = true;
        return false;
      }
    }
    return true;
  };

  const pump = (sub: Subscriber) => {
    if (sub.closed || sub.live) return;
    let more = false;
    sub.ws.cork(() => {
      more = sendPages(sub);
    });
    if (more) setImmediate(() => pump(sub));
  };

  /** Closes the subscribers backed up longest until all send buffers fit under the cap. */
  const enforceCap = (now: number) => {
    let total = 0;
    const backedUp: { sub: Subscriber; bytes: number }[] = [];
    for (const sub of subscribers.values()) {
      if (sub.closed) continue;
      const bytes = sub.ws.getBufferedAmount();
      if (bytes === 0) {
        sub.backedUpSince = undefined;
        continue;
      }
      sub.backedUpSince ??= now;
      total += bytes;
      backedUp.push({ sub, bytes });
    }
    if (total <= options.bufferCapBytes) return;
    backedUp.sort((a, b) => (a.sub.backedUpSince ?? now) - (b.sub.backedUpSince ?? now));
    for (const { sub, bytes } of backedUp) {
      if (total <= options.bufferCapBytes) break;
      const live = deps.lastBroadcastCreated();
      const cursor = sub.live && live > sub.cursor ? live : sub.cursor;
      log.warn("events: closing a subscriber, send buffers over the cap", {
        cursor,
        buffered_bytes: bytes,
        total_bytes: total,
        cap_bytes: options.bufferCapBytes,
      });
      const ws = sub.ws;
      ws.close(1013, `too slow; resume with ?cursor=${cursor}`);
      setTimeout(() => {
        if (ws.readyState !== 3) ws.terminate();
      }, CUT_AFTER_MS).unref();
      total -= bytes;
    }
  };

  let lastCapCheck = 0;
  const tick = () => {
    const now = Date.now();
    if (now - lastCapCheck >= options.capCheckMs) {
      lastCapCheck = now;
      enforceCap(now);
    }
    for (const sub of subscribers.values()) {
      if (sub.blockedSince !== undefined && now - sub.blockedSince > options.stallTimeoutMs) {
        log.warn("events: closing stalled subscriber", { cursor: sub.cursor });
        sub.ws.close(1013, `too slow; resume with ?cursor=${sub.cursor}`);
        continue;
      }
      const lastFrame = Math.max(sub.lastSentAt, sub.live ? deps.lastBroadcastAt() : 0);
      if (now - lastFrame >= options.pingIntervalMs) {
        sub.ws.ping();
        sub.lastSentAt = now;
      }
    }
  };

  return new Elysia({ name: "events" })
    .onStop(() => clearInterval(timer))
    .ws("/events", {
      query: t.Object({ cursor: t.Optional(t.String()) }),
      open(ws) {
        const raw = ws.raw as ServerWebSocket<unknown>;
        const parsed = parseCursor(ws.data.query.cursor);
        if (!parsed.valid) {
          log.warn("events: bad cursor, replaying from the start", {
            cursor: ws.data.query.cursor,
          });
        }
        const sub: Subscriber = {
          ws: raw,
          cursor: parsed.cursor,
          live: false,
          closed: false,
          lastSentAt: Date.now(),
          blockedSince: undefined,
          backedUpSince: undefined,
        };
        subscribers.set(ws.id, sub);
        deps.sockets.add(raw, "events");
        timer ??= setInterval(tick, Math.min(options.capCheckMs, options.pingIntervalMs / 2));
        log.debug("events: subscriber connected", { cursor: parsed.cursor });
        pump(sub);
      },
      drain(ws) {
        const sub = subscribers.get(ws.id);
        if (!sub || sub.live) return;
        sub.blockedSince = undefined;
        pump(sub);
      },
      close(ws, code) {
        const sub = subscribers.get(ws.id);
        if (sub) sub.closed = true;
        subscribers.delete(ws.id);
        deps.sockets.delete(ws.raw as ServerWebSocket<unknown>);
        if (subscribers.size === 0) {
          clearInterval(timer);
          timer = undefined;
        }
        log.debug("events: subscriber disconnected", { code, cursor: sub?.cursor });
      },
    });
}

const MAX_CURSOR = (1n << 63n) - 1n;

/**
 * `valid` is false for text that is not an integer; like absent and `0`, it replays from the
 * start (docs/design.md, *Cursors are nanoseconds*), but is worth a warning.
 */
export function parseCursor(raw: string | undefined): { cursor: bigint; valid: boolean } {
  if (raw === undefined || raw === "") return { cursor: 0n, valid: true };
  if (!/^-?[0-9]{1,19}$/.test(raw)) return { cursor: 0n, valid: false };
  const value = BigInt(raw);
  if (value > MAX_CURSOR) return { cursor: 0n, valid: false };
  return { cursor: value < 0n ? 0n : value, valid: true };
}
