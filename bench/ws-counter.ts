/**
 * A WebSocket reader that is not the bottleneck: a raw TCP client that performs the upgrade and
 * then only walks frame headers, counting text frames (Bun's WebSocket client spends more per
 * message than a server spends sending it). Server frames are never masked; control frames are
 * skipped. It can remember the payload of the last text frame, for checks.
 */
import type { Socket } from "bun";

export interface FrameCounter {
  /** Resolves once `count` text frames have arrived. */
  done: Promise<void>;
  frames(): number;
  lastText(): string;
  close(): void;
}

export async function countFrames(
  port: number,
  path: string,
  count: number,
): Promise<FrameCounter> {
  let frames = 0;
  let pending: Uint8Array = new Uint8Array(0);
  let upgraded = false;
  let lastPayload: Uint8Array = new Uint8Array(0);
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  const onBytes = (chunk: Uint8Array) => {
    let data: Uint8Array = chunk;
    if (pending.length > 0) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      data = joined;
    }
    let at = 0;
    if (!upgraded) {
      const text = new TextDecoder().decode(data);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        pending = data;
        return;
      }
      if (!text.startsWith("HTTP/1.1 101")) {
        reject(new Error(`upgrade refused: ${text.slice(0, text.indexOf("\r\n"))}`));
        return;
      }
      upgraded = true;
      at = Buffer.byteLength(text.slice(0, end + 4));
    }
    while (at + 2 <= data.length) {
      const opcode = (data[at] ?? 0) & 0x0f;
      let length = (data[at + 1] ?? 0) & 0x7f;
      let header = 2;
      if (length === 126) {
        if (at + 4 > data.length) break;
        length = ((data[at + 2] ?? 0) << 8) | (data[at + 3] ?? 0);
        header = 4;
      } else if (length === 127) {
        if (at + 10 > data.length) break;
        length = Number(new DataView(data.buffer, data.byteOffset + at + 2, 8).getBigUint64(0));
        header = 10;
      }
      if (at + header + length > data.length) break;
      if (opcode === 1) {
        frames++;
        if (frames === count) {
          lastPayload = data.slice(at + header, at + header + length);
          resolve();
        }
      }
      at += header + length;
    }
    pending = at < data.length ? data.slice(at) : new Uint8Array(0);
  };
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, chunk) => onBytes(chunk),
      close: () => reject(new Error(`connection closed after ${frames} frames`)),
      error: (_socket, error) => reject(error),
    },
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  done.catch(() => {});
  return {
    done,
    frames: () => frames,
    lastText: () => new TextDecoder().decode(lastPayload),
    close: () => socket.end(),
  };
}
