/**
 * What the local Jetstream and knot have in common: a WebSocket server on 127.0.0.1 at one
 * path that records each connection's URL (to check cursors and filters), replays retained
 * frames after the client's cursor, broadcasts new frames, and can misbehave on demand.
 */
import type { Server, ServerWebSocket } from "bun";

interface Client {
  url: URL;
}

export abstract class StreamStandIn {
  readonly connections: URL[] = [];
  /** Delay before a resuming client gets its replay (a slow upstream). */
  replayDelayMs = 0;
  private readonly sockets = new Set<ServerWebSocket<Client>>();
  protected readonly server: Server<Client>;

  protected constructor(path: string) {
    this.server = Bun.serve<Client>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, srv) => {
        const url = new URL(request.url);
        if (url.pathname !== path) {
          return (
            this.handleHttp(request, url) ?? new Response("404 page not found\n", { status: 404 })
          );
        }
        return srv.upgrade(request, { data: { url } })
          ? undefined
          : new Response("Bad Request", { status: 400 });
      },
      websocket: {
        open: (ws) => {
          this.connections.push(ws.data.url);
          this.sockets.add(ws);
          const cursor = ws.data.url.searchParams.get("cursor");
          if (cursor === null) return;
          const frames = this.framesAfter(cursor);
          const replay = () => {
            for (const frame of frames) ws.send(frame);
          };
          if (this.replayDelayMs > 0) setTimeout(replay, this.replayDelayMs);
          else replay();
        },
        message() {},
        close: (ws) => {
          this.sockets.delete(ws);
        },
      },
    });
  }

  /** Plain HTTP requests to other paths (a knot's XRPC); undefined answers 404. */
  protected handleHttp(_request: Request, _url: URL): Response | Promise<Response> | undefined {
    return undefined;
  }

  /** Retained frames a client resuming from `cursor` is sent before live ones. */
  protected abstract framesAfter(cursor: string): string[];

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Sends a frame to every open connection. */
  protected broadcast(frame: string): void {
    for (const ws of this.sockets) ws.send(frame);
  }

  /** Sends raw text to every open connection (garbage, unknown kinds, stale events). */
  sendRaw(text: string): void {
    this.broadcast(text);
  }

  /** Drops every connection without a close handshake. */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  stop(): void {
    this.server.stop(true);
  }
}
