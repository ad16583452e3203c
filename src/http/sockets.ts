/**
 * Every open WebSocket, across /events and /logs, so shutdown can close them all with 1001
 * ("going away") and clients reconnect elsewhere or later.
 */
import type { ServerWebSocket } from "bun";

export class OpenSockets {
  private readonly sockets = new Set<ServerWebSocket<unknown>>();

  add(ws: ServerWebSocket<unknown>): void {
    this.sockets.add(ws);
  }

  delete(ws: ServerWebSocket<unknown>): void {
    this.sockets.delete(ws);
  }

  get size(): number {
    return this.sockets.size;
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.sockets) ws.close(code, reason);
    this.sockets.clear();
  }
}
