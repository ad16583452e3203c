/**
 * The raw limit for backlog replay: steps the events table of BENCH_DB by cursor, 500 rows a
 * page, with the same prepared statement and frame text as a replay server, and sends them
 * nowhere. Prints `scanned <rows> <seconds>`.
 */
import { Database } from "bun:sqlite";

const db = new Database(process.env.BENCH_DB ?? "", { readonly: true, safeIntegers: true });
const page = db.query<{ created: bigint; rkey: string; nsid: string; event: string }, [bigint]>(
  "SELECT created, rkey, nsid, event FROM events WHERE created > ? ORDER BY created LIMIT 500",
);
const started = performance.now();
let rows = 0;
let bytes = 0;
let cursor = 0n;
for (;;) {
  const got = page.all(cursor);
  for (const row of got) {
    const frame = `{"created":${row.created},"event":${row.event},"nsid":${JSON.stringify(row.nsid)},"rkey":${JSON.stringify(row.rkey)}}`;
    bytes += frame.length;
    cursor = row.created;
  }
  rows += got.length;
  if (got.length < 500) break;
}
process.stdout.write(`scanned ${rows} ${(performance.now() - started) / 1000} ${bytes}\n`);
