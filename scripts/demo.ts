/**
 * `bun run demo`: tack end to end on this machine, no accounts and no network.
 *
 * Starts the same local stand-ins the tests use, a Jetstream and a knot speaking the real wire
 * formats, then tack itself pointed at them. The Jetstream stand-in announces a repo that names
 * this spindle; tack starts following its knot; the knot announces a push
 * (sh.tangled.git.refUpdate) of a commit whose `.tangled/workflows/ci.yml` says
 * `tack: { fake: {} }`; tack reads the workflow over the knot's XRPC, matches its `when:` and
 * runs it. Printed: the /events frames as an older appview receives them, what
 * sh.tangled.ci.queryPipelines and getPipeline answer today's appview, and the workflow's log,
 * as /logs lines and as sh.tangled.ci.subscribePipelineLogs frames decoded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMultiple } from "cbor-x";
import { createLogger } from "../src/log.ts";
import { startTack } from "../src/tack.ts";
import { FakeJetstream } from "../test/helpers/fake-jetstream.ts";
import { FakeKnot } from "../test/helpers/fake-knot.ts";
import { freshSha, newTid, OWNER, refUpdateRecord, repoRecord } from "../test/helpers/wire.ts";

const HOSTNAME = "demo.spindle.local";
const REPO_DID = "did:plc:demorepo0000000000000000";
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
say(
  `Jetstream: ${OWNER} creates repo "demo" (${REPO_DID}) on knot ${knot.host}, spindle ${HOSTNAME}`,
);
jetstream.commit(
  OWNER,
  "sh.tangled.repo",
  "create",
  newTid(),
  repoRecord({ name: "demo", knot: knot.host, spindle: HOSTNAME, repoDid: REPO_DID }),
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

const sha = freshSha();
knot.commit(REPO_DID, sha, [{ name: "ci.yml", content: WORKFLOW }]);
knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
say(
  `knot: push of ${sha.slice(0, 12)} to main (refUpdate); tack reads .tangled/workflows/ci.yml over XRPC`,
);
await done;

const xrpc = async (method: string, query: string) => {
  const text = await (await fetch(`http://${base}/xrpc/${method}?${query}`)).text();
  console.log(`  ${text.trim()}`);
  return JSON.parse(text) as { pipelines?: { id: string }[] };
};
say(`GET /xrpc/sh.tangled.ci.queryPipelines?repo=${REPO_DID} (today's appview):`);
const page = await xrpc("sh.tangled.ci.queryPipelines", `repo=${REPO_DID}`);
const rkey = page.pipelines?.[0]?.id ?? "";
say(`GET /xrpc/sh.tangled.ci.getPipeline?pipeline=${rkey}:`);
await xrpc("sh.tangled.ci.getPipeline", `pipeline=${rkey}`);

say(`log of ci.yml from ws://${base}/logs/${knot.host}/${rkey}/ci.yml (older appviews):`);
const logs = new WebSocket(`ws://${base}/logs/${knot.host}/${rkey}/ci.yml`);
logs.addEventListener("message", (message) => console.log(`  ${String(message.data)}`));
await new Promise((resolve) => logs.addEventListener("close", resolve));

say(
  `the same log from ws://${base}/xrpc/sh.tangled.ci.subscribePipelineLogs (CBOR frames, decoded):`,
);
const stream = new WebSocket(
  `ws://${base}/xrpc/sh.tangled.ci.subscribePipelineLogs?pipeline=${rkey}`,
);
stream.binaryType = "arraybuffer";
stream.addEventListener("message", (message) => {
  const [header, body] = decodeMultiple(new Uint8Array(message.data as ArrayBuffer)) as unknown[];
  console.log(`  ${JSON.stringify(header)} ${JSON.stringify(body)}`);
});
await new Promise((resolve) => stream.addEventListener("close", resolve));

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
