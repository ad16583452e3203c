/**
 * A WebSocket consumer that stays connected: Jetstream and every knot use it.
 *
 * - The URL is rebuilt on every (re)connect, so it always carries the *stored* cursor, never the
 *   one from the first connect.
 * - Messages are handled in arrival order, and each handler call is awaited before the next
 *   starts: a consumer saves its cursor only after its handler is done with the event. With
 *   `onMessages`, every frame that queued up while the previous call ran is handed over as one
 *   run (in order), so a backlog costs one commit per run instead of one per frame. While
 *   handlers fall behind, the socket is paused (TCP backpressure, bounded memory).
 * - A handler that throws is treated as transient: the connection is dropped and the event
 *   comes again from the stored cursor. (Handlers skip bad records themselves.)
 * - Reconnects back off exponentially with full jitter, capped (about a minute by default);
 *   the backoff resets once a connection delivers a message.
 * - An idle watchdog drops a connection that sent neither a message nor a ping for a while.
 * - Failure is visible: each stream keeps since when it has been disconnected and why (the
 *   cause WebSocket gave, e.g. "Failed to connect", "Expected 101 status code: 502"); after a
 *   few failures in a row the disconnect lines turn from info into warnings carrying the
 *   cause, and /healthz reads the same state (through a StreamBoard for the knots).
 */
import type { Logger } from "../log.ts";

export interface StreamOptions {
  /** Built on every connect, with the current cursor. */
  url: () => string;
  onMessage?: (data: string) => Promise<void>;
  /** Handles a run of frames, in order; takes precedence over `onMessage`. */
  onMessages?: (frames: string[]) => Promise<void>;
  log: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  idleTimeoutMs?: number;
  /** Where the stream lists itself while started, so health reports can find it. */
  board?: StreamBoard;
}

/** What an operator needs to know about one stream's connection. */
export interface StreamState {
  /** host[:port] of the upstream. */
  host: string;
  connected: boolean;
  /** Wall-clock ms since when it has had no open connection (undefined while connected). */
  disconnectedSince: number | undefined;
  /** Connection attempts in a row that ended without opening. */
  failures: number;
  /** Why the last connection failed or closed. */
  lastError: string | undefined;
}

/** The started streams of one kind (every knot), for /healthz and /metrics. */
export class StreamBoard {
  private readonly streams = new Set<ReconnectingStream>();
  add(stream: ReconnectingStream): void {
    this.streams.add(stream);
  }
  delete(stream: ReconnectingStream): void {
    this.streams.delete(stream);
  }
  list(): StreamState[] {
    return [...this.streams].map((stream) => stream.state());
  }
}

/** Failures in a row after which disconnects are logged at warn, with their cause. */
export const WARN_AFTER_FAILURES = 3;

/**
 * The socket pauses once this many frames, or this many characters, wait unhandled; a run
 * handed to `onMessages` is at most PAUSE_AT frames (a backlog's commits are per run).
 */
const PAUSE_AT = 1024;
const PAUSE_AT_CHARS = 16 << 20;
const RESUME_AT = 128;
/**
 * Frames above this are dropped unread. Bun's client has no payload limit, so a hostile or
 * broken upstream could otherwise have us parse and store arbitrarily large records; real
 * Jetstream events and pipeline triggers (whole workflow files) are far below it.
 */
export const MAX_FRAME_BYTES = 4 << 20;

export class ReconnectingStream {
  private socket: WebSocket | undefined;
  private queue: string[] = [];
  private queuedChars = 0;
  private processing: Promise<void> | undefined;
  private attempt = 0;
  private stopped = true;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether a connection is open right now (for health reporting). */
  connected = false;
  /** Wall-clock ms of the last frame or open, whichever is later (0 before the first). */
  lastActivityAt = 0;
  private disconnectedSince: number | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private host = "";

  constructor(private readonly options: StreamOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.disconnectedSince = Date.now();
    this.options.board?.add(this);
    this.connect();
  }

  state(): StreamState {
    return {
      host: this.host,
      connected: this.connected,
      disconnectedSince: this.connected ? undefined : this.disconnectedSince,
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.board?.delete(this);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.idleTimer);
    this.socket?.close(1000, "consumer stopping");
    this.queue = [];
    this.queuedChars = 0;
    await this.processing;
  }

  private connect(): void {
    if (this.stopped) return;
    let url: string;
    let socket: WebSocket;
    let opened = false;
    let cause: string | undefined;
    try {
      url = this.options.url();
      this.host = hostOf(url);
      socket = new WebSocket(url);
    } catch (error) {
      // A URL WebSocket refuses is not transient, but retrying (with backoff) keeps one bad
      // upstream from taking the process down; the log says what is wrong.
      this.failures++;
      this.lastError = error instanceof Error ? error.message : String(error);
      this.options.log.error("stream: cannot connect", { err: error, failures: this.failures });
      this.scheduleReconnect();
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.armIdle(socket);
    socket.addEventListener("open", () => {
      opened = true;
      this.connected = true;
      this.disconnectedSince = undefined;
      this.failures = 0;
      this.lastActivityAt = Date.now();
      this.options.log.info("stream: connected", { url: redactUrl(url) });
    });
    socket.addEventListener("error", (event) => {
      // Bun's ErrorEvent says why: "WebSocket connection to '…' failed: Failed to connect".
      const message = "message" in event ? String(event.message) : "";
      cause = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "error";
    });
    socket.addEventListener("message", (event) => {
      this.attempt = 0;
      this.lastActivityAt = Date.now();
      this.armIdle(socket);
      // Upstreams send JSON text; a binary frame is decoded as UTF-8 text all the same.
      const data =
        typeof event.data === "string"
          ? event.data
          : new TextDecoder().decode(
              event.data instanceof ArrayBuffer ? event.data : new Uint8Array(),
            );
      if (data.length > MAX_FRAME_BYTES) {
        this.options.log.warn("stream: dropping an oversized frame", { bytes: data.length });
        return;
      }
      this.queue.push(data);
      this.queuedChars += data.length;
      if (this.queue.length >= PAUSE_AT || this.queuedChars >= PAUSE_AT_CHARS) socket.pause();
      this.processing ??= this.drain(socket);
    });
    socket.addEventListener("ping", () => this.armIdle(socket));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      if (this.connected || this.disconnectedSince === undefined)
        this.disconnectedSince = Date.now();
      this.connected = false;
      clearTimeout(this.idleTimer);
      if (!opened) this.failures++;
      this.lastError = cause ?? `closed ${event.code}${event.reason ? ` ${event.reason}` : ""}`;
      const fields = {
        code: event.code,
        url: redactUrl(url),
        err: this.lastError,
        failures: this.failures,
        disconnected_s: Math.round((Date.now() - this.disconnectedSince) / 1000),
      };
      if (this.stopped) this.options.log.debug("stream: closed", fields);
      else if (this.failures >= WARN_AFTER_FAILURES)
        this.options.log.warn("stream: cannot connect", fields);
      else this.options.log.info("stream: disconnected", fields);
      this.scheduleReconnect();
    });
  }

  private async drain(socket: WebSocket): Promise<void> {
    try {
      for (;;) {
        const run = this.options.onMessages
          ? this.queue.splice(0, PAUSE_AT)
          : this.queue.splice(0, 1);
        if (run.length === 0) break;
        for (const data of run) this.queuedChars -= data.length;
        const low = this.queue.length <= RESUME_AT && this.queuedChars < PAUSE_AT_CHARS / 4;
        if (low && socket.isPaused) socket.resume();
        try {
          if (this.options.onMessages) await this.options.onMessages(run);
          else for (const data of run) await this.options.onMessage?.(data);
        } catch (error) {
          // Transient by contract: drop the connection and get the event again from the cursor.
          this.options.log.warn("stream: handler failed, reconnecting", { err: error });
          this.queue = [];
          this.queuedChars = 0;
          socket.terminate();
          return;
        }
      }
    } finally {
      this.processing = undefined;
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(
      this.attempt++,
      this.options.minBackoffMs ?? 1_000,
      this.options.maxBackoffMs ?? 60_000,
    );
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(async () => {
      // Finish what the old connection delivered before asking for more from the cursor.
      await this.processing;
      this.connect();
    }, delay);
  }

  private armIdle(socket: WebSocket): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.options.log.warn("stream: idle, reconnecting", {
        idle_ms: this.options.idleTimeoutMs ?? 90_000,
      });
      socket.terminate();
    }, this.options.idleTimeoutMs ?? 90_000);
  }
}

/**
 * Exponential backoff with jitter: attempt n waits a random time between half the minimum and
 * min·2ⁿ, capped at `max`, so many clients of one restarted server do not return in step.
 */
export function backoffDelay(
  attempt: number,
  min: number,
  max: number,
  random = Math.random(),
): number {
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return min / 2 + random * Math.max(0, cap - min / 2);
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

/** Query strings may carry cursors and filters, never secrets, but keep logs short anyway. */
function redactUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
