/**
 * A WebSocket client with an inbox attached before `open`, so no early frame is lost, and
 * promises to wait on (never sleeps): next frame, N frames, close.
 */
export interface Inbox {
  socket: WebSocket;
  frames: string[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with frame number `index` (0-based) once it has arrived. */
  frame(index: number, timeoutMs?: number): Promise<string>;
  /** Resolves once at least `count` frames have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<string[]>;
  close(): void;
}

export function connect(url: string): Inbox {
  const socket = new WebSocket(url);
  const frames: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("error", () => reject(new Error(`websocket error: ${url}`)));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.addEventListener("close", (event) =>
      resolve({ code: event.code, reason: event.reason }),
    );
  });
  socket.addEventListener("message", (event) => {
    frames.push(String(event.data));
    for (const waiter of [...waiters]) {
      if (frames.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  const waitFor = (count: number, timeoutMs = 10_000) =>
    new Promise<string[]>((resolve, reject) => {
      if (frames.length >= count) return resolve(frames);
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${count} frames (have ${frames.length})`)),
        timeoutMs,
      );
      waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(frames);
        },
      });
    });
  return {
    socket,
    frames,
    opened,
    closed,
    waitFor,
    frame: async (index, timeoutMs) => (await waitFor(index + 1, timeoutMs))[index] ?? "",
    close: () => socket.close(),
  };
}

/** The HTTP status a WebSocket upgrade request gets (101 when it is accepted). */
export async function upgradeStatus(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url.replace(/^ws/, "http"), {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  return { status: response.status, body: response.status === 101 ? "" : await response.text() };
}

/** `created` as exact integer text from a frame (JSON.parse would round it). */
export function createdOf(frame: string): bigint {
  const match = /"created":(\d+)/.exec(frame);
  if (!match?.[1]) throw new Error(`no created in frame ${frame}`);
  return BigInt(match[1]);
}
