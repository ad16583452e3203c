/**
 * The naive durable limit for webhook ingest: Bun.serve that, for each POST, inserts one row
 * (the body's digest) into SQLite in its own transaction with synchronous=FULL (one fsync per
 * delivery, no group commit) and then answers 200. No verification, no parsing, no framework.
 */
import { Database } from "bun:sqlite";

const db = new Database(process.env.BENCH_DB ?? ":memory:", { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = FULL");
// No uniqueness: the generator may repeat a delivery, and every one must cost a real write.
db.run("CREATE TABLE IF NOT EXISTS deliveries (key TEXT NOT NULL, received_at INTEGER NOT NULL)");
const insert = db.prepare("INSERT INTO deliveries (key, received_at) VALUES (?, ?)");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const body = await request.arrayBuffer();
    insert.run(new Bun.CryptoHasher("sha256").update(body).digest("hex"), Date.now());
    return new Response("ok\n");
  },
});
process.stdout.write(`ready ${server.port}\n`);
