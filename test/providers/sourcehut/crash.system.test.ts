/**
 * Exactly once, proven with kills: tack runs as its own process (`bun src/main.ts`) and the
 * builds.sr.ht stand-in SIGKILLs it the moment a submit has created the job, once before the
 * answer goes out and once right after. Each time the restarted tack finds the job by its
 * correlation id instead of submitting another, and follows it to its end.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type Running, startTack as startListening } from "../../helpers/crash-harness.ts";
import { FakeJetstream } from "../../helpers/fake-jetstream.ts";
import { FakeKnot } from "../../helpers/fake-knot.ts";
import { FakeSourcehut, sourcehutEnv } from "../../helpers/fake-sourcehut.ts";
import { tempDir } from "../../helpers/tack.ts";
import { eventually, until } from "../../helpers/wait.ts";
import { freshSha, newTid, OWNER, pipelineRecord, repoRecord } from "../../helpers/wire.ts";
import { nudgeTack, SOURCEHUT_WORKFLOW } from "./harness.ts";

// Real processes: this file takes seconds (bun resets the default per file).
setDefaultTimeout(60_000);

const ROOT = join(import.meta.dir, "..", "..", "..");
const HOSTNAME = "crash.test";
const REPO_DID = "did:plc:crashrepo000000000000000";

/** tack from source, listening on a free port. */
function startTack(dir: string, env: Record<string, string>): Promise<Running> {
  return startListening(["bun", join(ROOT, "src/main.ts"), "-addr", "127.0.0.1:0"], dir, env);
}

async function statusOf(port: number, rkey: string, workflow: string): Promise<string | undefined> {
  const response = await fetch(
    `http://127.0.0.1:${port}/xrpc/sh.tangled.ci.getPipeline?pipeline=${rkey}`,
  );
  if (response.status !== 200) return undefined;
  const body = (await response.json()) as { workflows: { name: string; status: string }[] };
  return body.workflows.find((entry) => entry.name === workflow)?.status;
}

test("SIGKILL in the submit window, before and after sourcehut answers: one job each, followed to the end", async () => {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const sourcehut = FakeSourcehut.start();
  const dir = tempDir();
  const env = {
    PATH: process.env.PATH ?? "",
    TACK_HOSTNAME: HOSTNAME,
    TACK_OWNER_DID: OWNER,
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_JETSTREAM_URL: jetstream.url,
    TACK_DEV: "true",
    ...sourcehutEnv(sourcehut),
  };
  const push = () =>
    knot.push(
      "sh.tangled.pipeline",
      pipelineRecord({
        knot: knot.host,
        did: OWNER,
        repoDid: REPO_DID,
        workflows: [{ name: "srht.yml", raw: SOURCEHUT_WORKFLOW }],
        sha: freshSha(),
      }),
    );
  let tack: Running | undefined;
  try {
    tack = await startTack(dir, env);
    await until(() => jetstream.openConnections > 0, "jetstream connection", 20_000);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "create",
      newTid(),
      repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME, repoDid: REPO_DID }),
    );
    await until(() => knot.openConnections > 0, "knot followed", 20_000);

    // 1. Killed after the job exists, before sourcehut's answer leaves.
    const running = tack;
    sourcehut.onSubmit = () => {
      sourcehut.onSubmit = undefined;
      running.kill("SIGKILL");
    };
    const before = push();
    await running.exited;
    const connections = knot.connections.length;
    expect(sourcehut.jobsFor(before, "srht.yml")).toHaveLength(1);

    tack = await startTack(dir, env);
    const first = sourcehut.jobsFor(before, "srht.yml")[0];
    await eventually(
      () => statusOf(tack?.port ?? 0, before, "srht.yml"),
      (status) => status === "pending",
      "the restarted tack knows the workflow",
      20_000,
    );
    sourcehut.runToEnd(first?.id ?? 0);
    await nudgeTack(`http://127.0.0.1:${tack.port}`, first);
    await eventually(
      () => statusOf(tack?.port ?? 0, before, "srht.yml"),
      (status) => status === "success",
      "the found job is followed to success",
      20_000,
    );

    // tack follows knots again once Jetstream's replay has settled.
    await until(() => knot.connections.length > connections, "knot followed again", 20_000);
    // 2. Killed right after the answer left, before tack can have stored it.
    const held = sourcehut.holdNextSubmit();
    const after = push();
    await held.submitted;
    held.release();
    await tack.kill("SIGKILL");
    tack = await startTack(dir, env);
    const second = sourcehut.jobsFor(after, "srht.yml");
    expect(second).toHaveLength(1);
    sourcehut.runToEnd(second[0]?.id ?? 0, "FAILED");
    await nudgeTack(`http://127.0.0.1:${tack.port}`, second[0]);
    await eventually(
      () => statusOf(tack?.port ?? 0, after, "srht.yml"),
      (status) => status === "failed",
      "the second job is followed to its end",
      20_000,
    );
    expect(sourcehut.jobsFor(before, "srht.yml")).toHaveLength(1);
    expect(sourcehut.jobsFor(after, "srht.yml")).toHaveLength(1);
    expect(sourcehut.callsTo("submit")).toHaveLength(2);
    expect(sourcehut.problems).toEqual([]);
  } finally {
    await tack?.kill("SIGTERM");
    jetstream.stop();
    knot.stop();
    sourcehut.stop();
  }
});
