/**
 * A local knot on 127.0.0.1 serving `GET /events` as a knot does (tangled-protocol.md §3):
 * frames `{"event":{…},"nsid":"…","rkey":"<TID>"}` with sorted keys and no `created`;
 * `?cursor=<ns>` replays events created after it, then live; no cursor means live only.
 */
import type { Server, ServerWebSocket } from "bun";
import { newTid, sortedJson } from "./wire.ts";

interface Client {
  url: URL;
}

export class FakeKnot {
  readonly connections: URL[] = [];
  readonly events: { created: bigint; frame: string }[] = [];
  private readonly sockets = new Set<ServerWebSocket<Client>>();
  private lastNs = 0n;

  private constructor(private readonly server: Server<Client>) {}

  static start(): FakeKnot {
    let self: FakeKnot | undefined;
    const server = Bun.serve<Client>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, srv) {
        const url = new URL(request.url);
        if (url.pathname !== "/events")
          return new Response("404 page not found\n", { status: 404 });
        return srv.upgrade(request, { data: { url } })
          ? undefined
          : new Response("Bad Request", { status: 400 });
      },
      websocket: {
        open(ws) {
          self?.opened(ws);
        },
        message() {},
        close(ws) {
          self?.sockets.delete(ws);
        },
      },
    });
    self = new FakeKnot(server);
    return self;
  }

  /** The knot's hostname as repos and triggers name it. */
  get host(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Appends an event to the knot's log and sends it to live subscribers; returns its rkey. */
  push(nsid: string, event: unknown, rkey: string = newTid()): string {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastNs = now > this.lastNs ? now : this.lastNs + 1n;
    const frame = sortedJson({ event, nsid, rkey });
    this.events.push({ created: this.lastNs, frame });
    for (const ws of this.sockets) ws.send(frame);
    return rkey;
  }

  sendRaw(text: string): void {
    for (const ws of this.sockets) ws.send(text);
  }

  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  stop(): void {
    this.server.stop(true);
  }

  private opened(ws: ServerWebSocket<Client>): void {
    this.connections.push(ws.data.url);
    this.sockets.add(ws);
    const cursor = ws.data.url.searchParams.get("cursor");
    if (cursor === null) return;
    for (const event of this.events) if (event.created > BigInt(cursor)) ws.send(event.frame);
  }
}
