/**
 * `bun run demo`: tack end to end on this machine, no accounts and no network.
 *
 * Starts the same local stand-ins the tests use, a Jetstream and a knot speaking the real wire
 * formats, then tack itself pointed at them. The Jetstream stand-in announces a repo that names
 * this spindle; tack starts following its knot; the knot pushes one pipeline trigger whose
 * workflow says `tack: { fake: {} }`; and the /events frames are printed as the appview would
 * receive them, followed by the workflow's log.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../src/log.ts";
import { startTack } from "../src/tack.ts";
import { FakeJetstream } from "../test/helpers/fake-jetstream.ts";
import { FakeKnot } from "../test/helpers/fake-knot.ts";
import { newTid, OWNER, pipelineRecord, repoRecord } from "../test/helpers/wire.ts";

const HOSTNAME = "demo.spindle.local";
const WORKFLOW =
  "when:\n  - event: [push]\n    branch: main\nengine: tack\ntack:\n  fake: { steps: 2 }\n";

const say = (text: string) => console.log(`\x1b[1m▸ ${text}\x1b[0m`);
const dir = mkdtempSync(join(tmpdir(), "tack-demo-"));
const jetstream = FakeJetstream.start();
const knot = FakeKnot.start();
const tack = await startTack(
  {
    hostname: HOSTNAME,
    ownerDid: OWNER,
    listen: { hostname: "127.0.0.1", port: 0 },
    dbPath: join(dir, "tack.db"),
    jetstreamUrl: jetstream.url,
    plcUrl: "http://127.0.0.1:1",
    dev: true,
    logLevel: "warn",
    eventsRetentionMs: 0,
  },
  createLogger("warn"),
  { streams: { minBackoffMs: 100, maxBackoffMs: 1_000 } },
);
const base = `127.0.0.1:${tack.port}`;
say(`tack is listening on http://${base} (database ${join(dir, "tack.db")})`);

const timeout = setTimeout(() => {
  console.error("demo: timed out");
  process.exit(1);
}, 30_000);

await until(() => jetstream.openConnections > 0);
say(`Jetstream: ${OWNER} creates repo "demo" on knot ${knot.host}, spindle ${HOSTNAME}`);
jetstream.commit(
  OWNER,
  "sh.tangled.repo",
  "create",
  newTid(),
  repoRecord({ name: "demo", knot: knot.host, spindle: HOSTNAME }),
);
await until(() => knot.openConnections > 0);
say(`tack follows ws://${knot.host}/events`);

const events = new WebSocket(`ws://${base}/events`);
await new Promise((resolve) => events.addEventListener("open", resolve));
say(`subscribed to ws://${base}/events; frames as the appview receives them:`);
const done = new Promise<void>((resolve) => {
  events.addEventListener("message", (message) => {
    const frame = String(message.data);
    console.log(`  ${frame}`);
    if (/"status":"(success|failed|timeout|cancelled)"/.test(frame)) resolve();
  });
});

const rkey = knot.push(
  "sh.tangled.pipeline",
  pipelineRecord({
    knot: knot.host,
    did: OWNER,
    repo: "demo",
    workflows: [{ name: "ci.yml", raw: WORKFLOW }],
  }),
);
say(`knot: push to main triggers pipeline ${rkey} (workflow ci.yml → tack: { fake: {} })`);
await done;

say(`log of ci.yml from ws://${base}/logs/${knot.host}/${rkey}/ci.yml:`);
const logs = new WebSocket(`ws://${base}/logs/${knot.host}/${rkey}/ci.yml`);
logs.addEventListener("message", (message) => console.log(`  ${String(message.data)}`));
await new Promise((resolve) => logs.addEventListener("close", resolve));

events.close();
await tack.stop();
jetstream.stop();
knot.stop();
rmSync(dir, { recursive: true, force: true });
clearTimeout(timeout);
say("done: pending → running → success, as Tangled would show it");

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await Bun.sleep(20);
}
