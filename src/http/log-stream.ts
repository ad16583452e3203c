/**
 * What the two log routes share: /logs/{knot}/{rkey}/{workflow} (older appviews, text frames)
 * and sh.tangled.ci.subscribePipelineLogs (today's appview, CBOR frames).
 *
 * - One cap on log streams open at once, counted from the moment a handshake starts: opening a
 *   log reads the CI's API with tack's token, and neither route needs authentication, so
 *   anonymous viewers must not be able to spend the API budget that builds depend on. A slot
 *   taken by a handshake that never becomes a WebSocket is given back after a short grace.
 * - One transport loop: lines from one or more workflows' logs are merged (each workflow's in
 *   order), encoded, sent with backpressure (the loop waits while the client is behind), with a
 *   ping after 30 s without a frame; the socket is closed 1000 once every log is complete, 1011
 *   if one fails. A client that leaves aborts the reads.
 */
import type { ServerWebSocket } from "bun";
import type { Logger } from "../log.ts";
import type { LogLine } from "../providers/provider.ts";

/** Log streams open at once, across both routes. */
export const MAX_LOG_STREAMS = 8;
/** How long a slot taken before the upgrade waits for its socket to open. */
const UNCLAIMED_GRACE_MS = 10_000;
/** Above this many buffered bytes the stream waits for the client to read. */
const HIGH_WATER = 1 << 20;
const PING_INTERVAL_MS = 30_000;

export interface LogStreamSlot {
  /** The socket opened: the slot is now released on close, not by the grace timer. */
  claim(): void;
  /** Idempotent. */
  release(): void;
}

export class LogStreamSlots {
  private used = 0;

  constructor(private readonly max: number = MAX_LOG_STREAMS) {}

  get inUse(): number {
    return this.used;
  }

  /** A slot, or undefined when every slot is taken (the caller answers 503). */
  tryAcquire(onExpire: () => void = () => {}): LogStreamSlot | undefined {
    if (this.used >= this.max) return undefined;
    this.used++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.used--;
    };
    const timer = setTimeout(() => {
      release();
      onExpire();
    }, UNCLAIMED_GRACE_MS);
    return { claim: () => clearTimeout(timer), release };
  }
}

/** One workflow's lines, to be merged with others into one socket. */
export interface LogSource {
  workflow: string;
  lines: AsyncIterable<LogLine>;
}

/**
 * Sends every source's lines through `encode` until all are complete or the client leaves;
 * resolves when the socket has been closed (or the client left).
 */
export async function pumpLogs(
  ws: ServerWebSocket<unknown>,
  sources: LogSource[],
  encode: (workflow: string, line: LogLine) => string | Uint8Array,
  abort: AbortController,
  log: Logger,
): Promise<void> {
  let lastSentAt = Date.now();
  const pinger = setInterval(() => {
    if (Date.now() - lastSentAt < PING_INTERVAL_MS) return;
    ws.ping();
    lastSentAt = Date.now();
  }, PING_INTERVAL_MS / 3);
  const pumpOne = async (source: LogSource) => {
    for await (const line of source.lines) {
      if (abort.signal.aborted) return;
      ws.send(encode(source.workflow, line));
      lastSentAt = Date.now();
      while (ws.getBufferedAmount() > HIGH_WATER && !abort.signal.aborted) await Bun.sleep(10);
    }
  };
  try {
    await Promise.all(sources.map(pumpOne));
    if (!abort.signal.aborted) ws.close(1000, "log stream complete");
  } catch (error) {
    log.error("logs: stream failed", { err: error });
    if (!abort.signal.aborted) ws.close(1011, "log stream failed");
  } finally {
    clearInterval(pinger);
    abort.abort();
  }
}
