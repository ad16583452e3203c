import { expect, test } from "bun:test";
import { openDb } from "../../src/db/client.ts";
import { runMigrations } from "../../src/db/migrate.ts";
import { Writer } from "../../src/db/writer.ts";
import { Broker } from "../../src/eventlog/broker.ts";
import { EventStore } from "../../src/eventlog/store.ts";
import { isTid } from "../../src/eventlog/tid.ts";

function memoryLog() {
  const database = openDb(":memory:");
  runMigrations(database.db);
  const writer = new Writer(database.db);
  const store = new EventStore(database.db);
  return { database, writer, store, broker: new Broker(writer, store) };
}

test("publish commits rows whose created is unique and strictly increasing within one tick", async () => {
  const { broker, store } = memoryLog();
  const rows = await Promise.all(
    Array.from({ length: 200 }, (_, i) => broker.publish("test.nsid", { i })),
  );
  for (let i = 1; i < rows.length; i++) {
    expect((rows[i]?.created ?? 0n) > (rows[i - 1]?.created ?? 0n)).toBe(true);
    expect(isTid(rows[i]?.rkey ?? "")).toBe(true);
  }
  expect(new Set(rows.map((row) => row.rkey)).size).toBe(200);
  expect(store.after(0n, 1000)).toEqual(rows);
});

test("created values above 2^53 survive storage exactly", async () => {
  const { broker, store } = memoryLog();
  const row = await broker.publish("test.nsid", { x: 1 });
  expect(row.created > 2n ** 53n).toBe(true);
  const [stored] = store.after(row.created - 1n, 1);
  expect(stored?.created).toBe(row.created);
  expect(store.after(row.created, 10)).toEqual([]);
});

test("after() pages by cursor in order", async () => {
  const { broker, store } = memoryLog();
  const rows = [];
  for (let i = 0; i < 25; i++) rows.push(await broker.publish("test.nsid", { i }));
  const first = store.after(0n, 10);
  const second = store.after(first.at(-1)?.created ?? 0n, 10);
  const third = store.after(second.at(-1)?.created ?? 0n, 10);
  expect([...first, ...second, ...third]).toEqual(rows);
  expect(third).toHaveLength(5);
});

test("fan-out happens after commit, in commit order", async () => {
  const { broker, database } = memoryLog();
  const seen: string[] = [];
  broker.attach({
    publish: (_topic, data) => {
      // The row must already be visible to a reader when its frame goes out.
      const count = database.sqlite.query("select count(*) as n from events").get() as {
        n: bigint;
      };
      seen.push(`${JSON.parse(data).event.i}:${count.n}`);
      return data.length;
    },
  });
  await Promise.all([0, 1, 2].map((i) => broker.publish("test.nsid", { i })));
  expect(seen).toEqual(["0:3", "1:3", "2:3"]);
});

test("a failing unit rolls back alone; the rest of the batch commits", async () => {
  const { writer, store, broker, database } = memoryLog();
  const good = broker.publish("test.nsid", { ok: 1 });
  const bad = writer.write((tx) => {
    tx.run("insert into events (created, rkey, nsid, event) values (1, 'x', 'n', '{}')");
    throw new Error("boom");
  });
  const alsoGood = broker.publish("test.nsid", { ok: 2 });
  await expect(bad).rejects.toThrow("boom");
  await Promise.all([good, alsoGood]);
  expect(store.after(0n, 10).map((row) => JSON.parse(row.event).ok)).toEqual([1, 2]);
  database.close();
});
