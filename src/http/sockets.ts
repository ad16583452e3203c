/**
 * Every open WebSocket, across /events and /logs, so shutdown can close them all with 1001
 * ("going away") and clients reconnect elsewhere or later.
 */
import type { ServerWebSocket } from "bun";

export type SocketKind = "events" | "logs";

export class OpenSockets {
  private readonly sockets = new Map<ServerWebSocket<unknown>, SocketKind>();

  add(ws: ServerWebSocket<unknown>, kind: SocketKind): void {
    this.sockets.set(ws, kind);
  }

  /** Open sockets of one kind (e.g. /events subscribers, for /metrics). */
  count(kind: SocketKind): number {
    let n = 0;
    for (const k of this.sockets.values()) if (k === kind) n++;
    return n;
  }

  delete(ws: ServerWebSocket<unknown>): void {
    this.sockets.delete(ws);
  }

  get size(): number {
    return this.sockets.size;
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets.keys()) ws.close(code, reason);
    this.sockets.clear();
  }
}
