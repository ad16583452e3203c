/**
 * A child process for the crash test: publishes events through the real event log and prints
 * `<created> <rkey>` for each publish that has returned (and so claims to be committed).
 * Usage: bun test/helpers/publisher.ts <db path> <count>
 */
import { openDb } from "../../src/db/client.ts";
import { runMigrations } from "../../src/db/migrate.ts";
import { Writer } from "../../src/db/writer.ts";
import { Broker } from "../../src/eventlog/broker.ts";
import { EventStore } from "../../src/eventlog/store.ts";

const [path, count] = process.argv.slice(2);
if (!path || !count) throw new Error("usage: publisher.ts <db path> <count>");
const database = openDb(path);
runMigrations(database.db);
const broker = new Broker(new Writer(database.db), new EventStore(database.db));
for (let i = 0; i < Number(count); i += 8) {
  // A few publishes in flight at once, as concurrent webhooks would be.
  const batch = Array.from({ length: 8 }, (_, j) =>
    broker.publish("sh.tangled.pipeline.status", { i: i + j }),
  );
  for (const row of await Promise.all(batch)) process.stdout.write(`${row.created} ${row.rkey}\n`);
}
