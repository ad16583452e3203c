/**
 * Crash safety, measured: drives pipeline triggers (through a local Jetstream and knot) and
 * signed Buildkite webhooks (against a local Buildkite API) at tack's real process, kills it
 * with SIGKILL at random moments, restarts it, and finally checks what survived:
 *
 * - every trigger the knot published was dispatched exactly once (one `pending` per workflow,
 *   one Buildkite build per Buildkite workflow);
 * - every webhook tack answered 200 is reflected in the event log;
 * - no status rkey repeats, and `created` strictly increases along /events.
 *
 * Used by scripts/crash-test.ts (full size) and test/integration/crash-kill.test.ts (small).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { FakeBuildkite } from "./fake-buildkite.ts";
import { FakeJetstream } from "./fake-jetstream.ts";
import { FakeKnot } from "./fake-knot.ts";
import { buildkiteHeaders } from "./sign-buildkite.ts";
import { tempDir } from "./tack.ts";
import { until } from "./wait.ts";
import { freshSha, newTid, OWNER, pipelineRecord, repoRecord } from "./wire.ts";

const ROOT = join(import.meta.dir, "..", "..");
const HOSTNAME = "crash.test";
const TOKEN = "bk-crash-token-0123456789";
const SECRET = "whsec-crash-0123456789abcdef";
const WORKFLOWS = [
  { name: "bk.yml", raw: "engine: tack\ntack:\n  buildkite: { pipeline: app }\n" },
  { name: "fake.yml", raw: "engine: tack\ntack:\n  fake: {}\n" },
];

export interface CrashOptions {
  kills: number;
  triggersPerRound: number;
  webhooksPerRound: number;
  /** Run this compiled binary instead of `bun src/main.ts`. */
  binary?: string;
  log?: (line: string) => void;
}

export interface CrashReport {
  kills: number;
  triggers: number;
  workflows: number;
  builds: number;
  webhooksSent: number;
  webhooksAcknowledged: number;
  events: number;
  lostTriggers: string[];
  repeatedDispatches: string[];
  repeatedBuilds: string[];
  lostWebhooks: string[];
  repeatedRkeys: number;
  cursorRegressions: number;
  unfinishedWorkflows: string[];
}

interface Running {
  port: number;
  kill(signal: "SIGKILL" | "SIGTERM"): Promise<number | null>;
}

export async function runCrashTest(options: CrashOptions): Promise<CrashReport> {
  const log = options.log ?? (() => {});
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const buildkite = FakeBuildkite.start(TOKEN);
  const dir = tempDir();
  const env = {
    PATH: process.env.PATH ?? "",
    TACK_HOSTNAME: HOSTNAME,
    TACK_OWNER_DID: OWNER,
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_JETSTREAM_URL: jetstream.url,
    TACK_DEV: "true",
    TACK_BUILDKITE_TOKEN: TOKEN,
    TACK_BUILDKITE_ORG: "acme",
    TACK_BUILDKITE_WEBHOOK_SECRET: SECRET,
    TACK_BUILDKITE_WEBHOOK_MODE: "signature",
    TACK_BUILDKITE_API_URL: buildkite.url,
  };
  const command =
    options.binary && existsSync(options.binary)
      ? [resolve(options.binary)]
      : ["bun", join(ROOT, "src/main.ts")];
  const start = () => startTack([...command, "-addr", "127.0.0.1:0"], dir, env);

  const pushed: string[] = [];
  const acknowledged: { build: string; workflow: string; state: string }[] = [];
  let webhooksSent = 0;
  const push = () => {
    for (let i = 0; i < options.triggersPerRound; i++) {
      pushed.push(
        knot.push(
          "sh.tangled.pipeline",
          pipelineRecord({
            knot: knot.host,
            did: OWNER,
            repo: "app",
            workflows: WORKFLOWS,
            sha: freshSha(),
          }),
        ),
      );
    }
  };
  const sendWebhooks = async (tack: Running, count: number, finish: boolean) => {
    const builds = [...buildkite.builds.values()];
    const chosen = finish
      ? builds
      : Array.from(
          { length: Math.min(count, builds.length) },
          () => builds[Math.floor(Math.random() * builds.length)],
        );
    await Promise.all(
      chosen.map(async (build) => {
        if (!build) return;
        const state = finish || build.state === "running" ? "passed" : "running";
        buildkite.update(build, {
          state,
          ...(state === "passed" ? { finished_at: new Date().toISOString() } : {}),
        });
        const event = state === "passed" ? "build.finished" : "build.running";
        const body = JSON.stringify(buildkite.webhook(event, build));
        webhooksSent++;
        try {
          const response = await fetch(`http://127.0.0.1:${tack.port}/webhooks/buildkite`, {
            method: "POST",
            headers: buildkiteHeaders({
              mode: "signature",
              secret: SECRET,
              event,
              body,
              nowMs: Date.now(),
            }),
            body,
          });
          if (response.status === 200) {
            acknowledged.push({
              build: build.id,
              workflow: build.meta_data["tack:pipeline_rkey"] ?? "",
              state,
            });
          }
        } catch {
          // killed mid-request: not acknowledged, so Buildkite would retry; nothing is owed
        }
      }),
    );
  };

  try {
    let tack = await start();
    await until(() => jetstream.openConnections > 0, "jetstream connection", 20_000);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "create",
      newTid(),
      repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME }),
    );
    await until(() => knot.openConnections > 0, "knot followed", 20_000);
    // A knot is followed live until tack has stored a cursor for it; let the first trigger
    // land before the first kill so later rounds resume from a cursor.
    push();
    await until(() => buildkite.builds.size > 0, "first build", 20_000);

    for (let round = 0; round < options.kills; round++) {
      if (round > 0) {
        const connections = knot.connections.length;
        tack = await start();
        push();
        // Kill while triggers flow: tack follows knots only after Jetstream's replay settles.
        await until(() => knot.connections.length > connections, "knot followed again", 20_000);
      }
      const webhooks = sendWebhooks(tack, options.webhooksPerRound, false);
      await Bun.sleep(50 + Math.random() * 400);
      await tack.kill("SIGKILL");
      await webhooks;
      log(
        `kill ${round + 1}/${options.kills}: ${pushed.length} triggers pushed, ${acknowledged.length}/${webhooksSent} webhooks acknowledged`,
      );
    }

    tack = await start();
    const workflowCount = pushed.length * WORKFLOWS.length;
    await until(
      () => buildkite.builds.size >= pushed.length,
      "every Buildkite workflow built",
      60_000,
    );
    await sendWebhooks(tack, 0, true);
    const frames = await readEvents(tack.port, (statuses) => allFinished(statuses, pushed), 60_000);
    await tack.kill("SIGTERM");

    const statuses = frames.map((frame) => frame.event);
    const report: CrashReport = {
      kills: options.kills,
      triggers: pushed.length,
      workflows: workflowCount,
      builds: buildkite.builds.size,
      webhooksSent,
      webhooksAcknowledged: acknowledged.length,
      events: frames.length,
      lostTriggers: [],
      repeatedDispatches: [],
      repeatedBuilds: [],
      lostWebhooks: [],
      repeatedRkeys: frames.length - new Set(frames.map((f) => f.rkey)).size,
      cursorRegressions: frames.filter(
        (f, i) => i > 0 && f.created <= (frames[i - 1]?.created ?? 0n),
      ).length,
      unfinishedWorkflows: [],
    };
    for (const rkey of pushed) {
      for (const { name } of WORKFLOWS) {
        const mine = statuses.filter((s) => s.pipeline.endsWith(`/${rkey}`) && s.workflow === name);
        const pending = mine.filter((s) => s.status === "pending").length;
        if (pending === 0) report.lostTriggers.push(`${rkey}/${name}`);
        if (pending > 1) report.repeatedDispatches.push(`${rkey}/${name}`);
        if (!mine.some((s) => TERMINAL.has(s.status)))
          report.unfinishedWorkflows.push(`${rkey}/${name}`);
      }
      const builds = [...buildkite.builds.values()].filter(
        (b) => b.meta_data["tack:pipeline_rkey"] === rkey,
      );
      if (builds.length > 1) report.repeatedBuilds.push(rkey);
    }
    for (const ack of acknowledged) {
      const mine = statuses
        .filter((s) => s.pipeline.endsWith(`/${ack.workflow}`) && s.workflow === "bk.yml")
        .map((s) => s.status);
      const reflected =
        ack.state === "passed" ? mine.includes("success") : mine.some((s) => s !== "pending");
      if (!reflected) report.lostWebhooks.push(`${ack.build}:${ack.state}`);
    }
    return report;
  } finally {
    jetstream.stop();
    knot.stop();
    buildkite.stop();
  }
}

const TERMINAL = new Set(["success", "failed", "timeout", "cancelled"]);

interface Frame {
  created: bigint;
  rkey: string;
  event: { pipeline: string; workflow: string; status: string };
}

function allFinished(statuses: Frame["event"][], rkeys: string[]): boolean {
  return rkeys.every((rkey) =>
    WORKFLOWS.every(({ name }) =>
      statuses.some(
        (s) => s.pipeline.endsWith(`/${rkey}`) && s.workflow === name && TERMINAL.has(s.status),
      ),
    ),
  );
}

/** Reads /events from the start until `done` holds for the statuses seen. */
async function readEvents(
  port: number,
  done: (statuses: Frame["event"][]) => boolean,
  timeoutMs: number,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${port}/events`);
  socket.onmessage = (message) => {
    const text = String(message.data);
    const parsed = JSON.parse(text) as Omit<Frame, "created">;
    frames.push({ ...parsed, created: BigInt(/"created":(\d+)/.exec(text)?.[1] ?? "0") });
  };
  await until(
    () => done(frames.map((f) => f.event)),
    "every workflow finished on /events",
    timeoutMs,
  );
  socket.close();
  return frames;
}

async function startTack(
  command: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<Running> {
  const child = Bun.spawn(command, { cwd, env, stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tack exited before listening (code ${child.exitCode})`);
    text += decoder.decode(value);
    port = Number(/"msg":"tack: listening"[^\n]*"port":(\d+)/.exec(text)?.[1] ?? 0);
  }
  // Keep draining stdout so a chatty process never blocks on a full pipe.
  void (async () => {
    for (;;) if ((await reader.read()).done) return;
  })().catch(() => {});
  return {
    port,
    kill: async (signal) => {
      child.kill(signal);
      return child.exited;
    },
  };
}
