/**
 * The fair limit for backlog replay: a bare Bun.serve reading the same events table of the
 * same database (BENCH_DB) page by page with one prepared statement, building the same frames,
 * sending each page corked and pausing on backpressure until `drain`. No framework, no
 * subscriber bookkeeping, no live hand-off.
 */
import { Database } from "bun:sqlite";
import type { ServerWebSocket } from "bun";

const PAGE = 500;
const HIGH_WATER = 1 << 20;
const db = new Database(process.env.BENCH_DB ?? "", { readonly: true, safeIntegers: true });
const page = db.query<{ created: bigint; rkey: string; nsid: string; event: string }, [bigint]>(
  `SELECT created, rkey, nsid, event FROM events WHERE created > ? ORDER BY created LIMIT ${PAGE}`,
);
const cursors = new Map<ServerWebSocket<unknown>, bigint>();

function pump(ws: ServerWebSocket<unknown>): void {
  for (;;) {
    let cursor = cursors.get(ws) ?? 0n;
    let rows = 0;
    let blocked = false;
    ws.cork(() => {
      for (const row of page.all(cursor)) {
        rows++;
        ws.send(
          `{"created":${row.created},"event":${row.event},"nsid":${JSON.stringify(row.nsid)},"rkey":${JSON.stringify(row.rkey)}}`,
        );
        cursor = row.created;
        if (ws.getBufferedAmount() > HIGH_WATER) {
          blocked = true;
          break;
        }
      }
    });
    cursors.set(ws, cursor);
    if (blocked || rows < PAGE) return;
  }
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request, srv) =>
    srv.upgrade(request, { data: undefined })
      ? undefined
      : new Response("upgrade", { status: 400 }),
  websocket: {
    open: pump,
    drain: pump,
    message: () => {},
    close: (ws) => {
      cursors.delete(ws);
    },
    perMessageDeflate: false,
  },
});
process.stdout.write(`ready ${server.port}\n`);
