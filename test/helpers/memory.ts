/** The event log and workflow store on an in-memory (or given) database, for unit tests. */
import type { Clock } from "../../src/clock.ts";
import { openDb } from "../../src/db/client.ts";
import { runMigrations } from "../../src/db/migrate.ts";
import { Writer } from "../../src/db/writer.ts";
import { Broker } from "../../src/eventlog/broker.ts";
import { EventStore } from "../../src/eventlog/store.ts";
import { Workflows } from "../../src/pipeline/workflows.ts";

export function memoryTack(clock?: Clock, path = ":memory:") {
  const database = openDb(path);
  runMigrations(database.db);
  const writer = new Writer(database.db);
  const store = new EventStore(database.db);
  const broker = new Broker(writer, store);
  const workflows = new Workflows(database.db, writer, broker, clock);
  return { database, writer, store, broker, workflows };
}

/** A clock whose sleeps advance time instantly, recording how long each one asked for. */
export function fakeClock(startMs: number) {
  let now = startMs;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += Math.max(0, ms);
    },
  };
  return { clock, sleeps, advance: (ms: number) => (now += ms), nowMs: () => now };
}

/** The status records in the log, parsed, oldest first. */
export function statuses(store: EventStore): Record<string, unknown>[] {
  return store.after(0n, 100_000).map((row) => JSON.parse(row.event) as Record<string, unknown>);
}
