/**
 * A local Jetstream on 127.0.0.1 speaking its plain-JSON wire format (tangled-protocol.md §4):
 * `GET /subscribe?wantedCollections=…&cursor=<µs>`, one text frame per event,
 * `{"did","time_us","kind":"commit","commit":{"rev","operation","collection","rkey","record","cid"}}`.
 * With a cursor it replays retained events from that time on, then live; without, live only.
 */
import type { Server, ServerWebSocket } from "bun";
import { newTid, sortedJson } from "./wire.ts";

interface Client {
  url: URL;
}

export class FakeJetstream {
  readonly connections: URL[] = [];
  readonly events: { time_us: number; frame: string }[] = [];
  private readonly sockets = new Set<ServerWebSocket<Client>>();
  private lastUs = 0;

  private constructor(private readonly server: Server<Client>) {}

  static start(): FakeJetstream {
    let self: FakeJetstream | undefined;
    const server = Bun.serve<Client>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, srv) {
        const url = new URL(request.url);
        if (url.pathname !== "/subscribe") return new Response("not found", { status: 404 });
        return srv.upgrade(request, { data: { url } })
          ? undefined
          : new Response("upgrade", { status: 400 });
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
    self = new FakeJetstream(server);
    return self;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.server.port}/subscribe`;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Emits a commit event now; returns its time_us. */
  commit(
    did: string,
    collection: string,
    operation: "create" | "update" | "delete",
    rkey: string,
    record?: unknown,
  ): number {
    this.lastUs = Math.max(Date.now() * 1000, this.lastUs + 1);
    const event = {
      did,
      time_us: this.lastUs,
      kind: "commit",
      commit: {
        rev: newTid(),
        operation,
        collection,
        rkey,
        ...(operation === "delete"
          ? {}
          : { record, cid: "bafyreibogusbogusbogusbogusbogusbogusbogusbogusbogus" }),
      },
    };
    const frame = sortedJson(event);
    this.events.push({ time_us: this.lastUs, frame });
    for (const ws of this.sockets) ws.send(frame);
    return this.lastUs;
  }

  /** Sends raw text to every open connection (garbage, unknown kinds). */
  sendRaw(text: string): void {
    for (const ws of this.sockets) ws.send(text);
  }

  /** Drops every connection without a close handshake. */
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
    for (const event of this.events) if (event.time_us >= Number(cursor)) ws.send(event.frame);
  }
}
