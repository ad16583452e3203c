/**
 * Crash safety, measured: drives pushes (through a local Jetstream and knot), each with a
 * Buildkite, a GitHub, a GitLab, a sourcehut and a fake workflow, and signed Buildkite, GitHub
 * and GitLab webhooks and sourcehut's completion nudges (against local Buildkite, GitHub, GitLab
 * and builds.sr.ht APIs) at tack's real process, kills it with SIGKILL at random
 * moments, restarts it, and finally checks what survived. The knot announces pushes the ways
 * knots do, in turn: an `sh.tangled.git.refUpdate` (tack reads the workflows over the knot's
 * XRPC), a legacy `sh.tangled.pipeline` record, or both for the same push.
 *
 * - every push ran exactly once: one pipeline per push whoever announced it, one `pending` per
 *   workflow, one Buildkite build, GitHub run, GitLab pipeline and sourcehut job per workflow;
 * - every webhook tack answered 200 is reflected in the event log;
 * - no status rkey repeats, and `created` strictly increases along /events.
 *
 * Some kills land inside the create window on purpose: a CI stand-in kills tack the moment it
 * has created a build or run, either before its answer goes out or right after, which is where
 * a provider can lose track of a build or create a second one.
 *
 * Used by scripts/crash-test.ts (full size) and test/integration/crash-kill.system.test.ts (small).
 */
import { appendFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { FakeBuildkite } from "./fake-buildkite.ts";
import { FakeGithub, GITHUB_TOKEN, RUNNER_REPO, RUNNER_WORKFLOW } from "./fake-github.ts";
import { FakeGitlab, gitlabEnv, nextDelivery, RUNNER_PROJECT } from "./fake-gitlab.ts";
import { FakeJetstream } from "./fake-jetstream.ts";
import { FakeKnot } from "./fake-knot.ts";
import { FakeSourcehut, sourcehutEnv } from "./fake-sourcehut.ts";
import { buildkiteHeaders } from "./sign-buildkite.ts";
import { signGithub } from "./sign-github.ts";
import { tempDir } from "./tack.ts";
import { until } from "./wait.ts";
import { freshSha, newTid, OWNER, pipelineRecord, refUpdateRecord, repoRecord } from "./wire.ts";

const ROOT = join(import.meta.dir, "..", "..");
const HOSTNAME = "crash.test";
const REPO_DID = "did:plc:crashrepo000000000000000";
const BK_TOKEN = "bk-crash-token-0123456789";
const BK_SECRET = "whsec-crash-0123456789abcdef";
const GH_SECRET = "whsec-github-crash-0123456789";
const WORKFLOWS = [
  { name: "bk.yml", raw: "engine: tack\ntack:\n  buildkite: { pipeline: app }\n" },
  {
    name: "gh.yml",
    raw: `engine: tack\ntack:\n  github: { repo: ${RUNNER_REPO}, workflow: ${RUNNER_WORKFLOW} }\n`,
  },
  { name: "gl.yml", raw: `engine: tack\ntack:\n  gitlab: { project: ${RUNNER_PROJECT} }\n` },
  {
    name: "srht.yml",
    raw: "engine: tack\ntack:\n  sourcehut:\n    manifest: |\n      image: alpine/edge\n      tasks:\n        - build: make\n",
  },
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
  /** Kills a CI stand-in made the moment it created a build or run. */
  createWindowKills: number;
  triggers: number;
  workflows: number;
  builds: number;
  runs: number;
  gitlabPipelines: number;
  sourcehutJobs: number;
  webhooksSent: number;
  webhooksAcknowledged: number;
  events: number;
  lostTriggers: string[];
  repeatedDispatches: string[];
  repeatedBuilds: string[];
  repeatedRuns: string[];
  repeatedGitlabPipelines: string[];
  repeatedSourcehutJobs: string[];
  lostWebhooks: string[];
  repeatedRkeys: number;
  cursorRegressions: number;
  unfinishedWorkflows: string[];
}

/** A tack process that is listening. */
export interface Running {
  port: number;
  /** Settles with the exit code when the process ends, however it ends. */
  exited: Promise<number | null>;
  kill(signal: "SIGKILL" | "SIGTERM"): Promise<number | null>;
}

interface Acknowledged {
  /** The pipeline rkey and the workflow it is about. */
  rkey: string;
  workflow: string;
  finished: boolean;
  what: string;
}

export async function runCrashTest(options: CrashOptions): Promise<CrashReport> {
  const log = options.log ?? (() => {});
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  const buildkite = FakeBuildkite.start(BK_TOKEN);
  const github = FakeGithub.start();
  // GitHub lists a new run only after a couple of list calls, as the real one lags.
  github.listLag = 2;
  const gitlab = FakeGitlab.start();
  gitlab.listLag = 2;
  const sourcehut = FakeSourcehut.start();
  const dir = tempDir();
  const env = {
    PATH: process.env.PATH ?? "",
    TACK_HOSTNAME: HOSTNAME,
    TACK_OWNER_DID: OWNER,
    TACK_DB_PATH: join(dir, "tack.db"),
    TACK_JETSTREAM_URL: jetstream.url,
    TACK_DEV: "true",
    ...(process.env.TACK_LOG_LEVEL ? { TACK_LOG_LEVEL: process.env.TACK_LOG_LEVEL } : {}),
    TACK_BUILDKITE_TOKEN: BK_TOKEN,
    TACK_BUILDKITE_ORG: "acme",
    TACK_BUILDKITE_WEBHOOK_SECRET: BK_SECRET,
    TACK_BUILDKITE_WEBHOOK_MODE: "signature",
    TACK_BUILDKITE_API_URL: buildkite.url,
    TACK_GITHUB_TOKEN: GITHUB_TOKEN,
    TACK_GITHUB_WEBHOOK_SECRET: GH_SECRET,
    TACK_GITHUB_API_URL: github.url,
    ...gitlabEnv(gitlab),
    ...sourcehutEnv(sourcehut),
  };
  const command =
    options.binary && existsSync(options.binary)
      ? [resolve(options.binary)]
      : ["bun", join(ROOT, "src/main.ts")];
  const start = () => startTack([...command, "-addr", "127.0.0.1:0"], dir, env);

  const pushed: Push[] = [];
  const acknowledged: Acknowledged[] = [];
  let webhooksSent = 0;
  let createWindowKills = 0;
  const push = () => {
    for (let i = 0; i < options.triggersPerRound; i++)
      pushed.push(pushTrigger(knot, pushed.length));
  };
  const deliver = async (tack: Running, finish: boolean, count: number) => {
    const sends = [
      ...pick([...buildkite.builds.values()], finish, count).map((build) =>
        sendBuildkite(tack, buildkite, build, finish),
      ),
      ...pick([...github.runs.values()], finish, count).map((run) =>
        sendGithub(tack, github, run, finish),
      ),
      ...pick([...gitlab.pipelines.values()], finish, count).map((pipeline) =>
        sendGitlab(tack, gitlab, pipeline, finish),
      ),
      ...pick([...sourcehut.jobs.values()], finish, count).map((job) =>
        nudgeSourcehut(tack, sourcehut, job, finish),
      ),
    ];
    const results = await Promise.all(sends);
    webhooksSent += results.length;
    for (const ack of results) if (ack) acknowledged.push(ack);
  };

  try {
    let tack = await start();
    await until(() => jetstream.openConnections > 0, "jetstream connection", 20_000);
    jetstream.commit(
      OWNER,
      "sh.tangled.repo",
      "create",
      newTid(),
      repoRecord({ name: "app", knot: knot.host, spindle: HOSTNAME, repoDid: REPO_DID }),
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
      // Every other round, the next create on one of the CIs kills tack on the spot.
      const inWindow =
        round % 2 === 1 ? armCreateKill(tack, buildkite, github, gitlab, sourcehut) : undefined;
      const webhooks = deliver(tack, false, options.webhooksPerRound);
      // An armed round waits for its create (bounded); the others kill after 50–450 ms.
      const killedByCi = await Promise.race([
        Bun.sleep(inWindow ? 5_000 : 50 + Math.random() * 400).then(() => false),
        inWindow?.fired ?? new Promise<boolean>(() => {}),
      ]);
      inWindow?.disarm();
      if (killedByCi) createWindowKills++;
      await tack.kill("SIGKILL");
      await webhooks;
      log(
        `kill ${round + 1}/${options.kills}${killedByCi ? " (in a create window)" : ""}: ${pushed.length} triggers pushed, ${acknowledged.length}/${webhooksSent} webhooks acknowledged`,
      );
    }

    tack = await start();
    await until(
      () =>
        buildkite.builds.size >= pushed.length &&
        github.runs.size >= pushed.length &&
        gitlab.pipelines.size >= pushed.length &&
        sourcehut.jobs.size >= pushed.length,
      "every Buildkite, GitHub, GitLab and sourcehut workflow started",
      120_000,
    );
    await deliver(tack, true, 0);
    // A nudge only speeds a poll up. One tack answered "ignored" (a job it had not linked yet)
    // is sent again, so the run need not wait for the job's next scheduled poll.
    let unheeded = [...sourcehut.jobs.values()];
    const deadline = Date.now() + 120_000;
    while (unheeded.length > 0 && Date.now() < deadline) {
      const answers = await Promise.all(
        unheeded.map((job) => nudge(`http://127.0.0.1:${tack.port}`, job)),
      );
      unheeded = unheeded.filter(
        (_, i) => !answers[i]?.startsWith("200 ") || answers[i]?.startsWith("200 ignored"),
      );
      if (unheeded.length > 0) await Bun.sleep(100);
    }
    const frames = await readEvents(tack.port, (seen) => allFinished(seen, pushed), 120_000);
    await tack.kill("SIGTERM");

    const statuses = frames.flatMap((frame) => (frame.nsid === STATUS ? [frame.event] : []));
    const report: CrashReport = {
      kills: options.kills,
      createWindowKills,
      triggers: pushed.length,
      workflows: pushed.length * WORKFLOWS.length,
      builds: buildkite.builds.size,
      runs: github.runs.size,
      gitlabPipelines: gitlab.pipelines.size,
      sourcehutJobs: sourcehut.jobs.size,
      webhooksSent,
      webhooksAcknowledged: acknowledged.length,
      events: frames.length,
      lostTriggers: [],
      repeatedDispatches: [],
      repeatedBuilds: [],
      repeatedRuns: [],
      repeatedGitlabPipelines: [],
      repeatedSourcehutJobs: [],
      lostWebhooks: [],
      repeatedRkeys: frames.length - new Set(frames.map((f) => f.rkey)).size,
      cursorRegressions: frames.filter(
        (f, i) => i > 0 && f.created <= (frames[i - 1]?.created ?? 0n),
      ).length,
      unfinishedWorkflows: [],
    };
    for (const push of pushed) {
      const runs = pipelinesOf(frames, push);
      if (runs.length > 1) report.repeatedDispatches.push(`${push.sha} ran as ${runs.join(", ")}`);
      const rkey = runs[0] ?? push.legacyRkey ?? push.sha;
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
      if ([...github.runs.values()].filter((run) => rkeyOfRun(run) === rkey).length > 1) {
        report.repeatedRuns.push(rkey);
      }
      if ([...gitlab.pipelines.values()].filter((p) => gitlab.rkeyOf(p) === rkey).length > 1) {
        report.repeatedGitlabPipelines.push(rkey);
      }
      if (sourcehut.jobsFor(rkey, "srht.yml").length > 1) report.repeatedSourcehutJobs.push(rkey);
    }
    for (const ack of acknowledged) {
      const mine = statuses
        .filter((s) => s.pipeline.endsWith(`/${ack.rkey}`) && s.workflow === ack.workflow)
        .map((s) => s.status);
      const reflected = ack.finished ? mine.includes("success") : mine.some((s) => s !== "pending");
      if (!reflected) report.lostWebhooks.push(ack.what);
    }
    return report;
  } finally {
    jetstream.stop();
    knot.stop();
    buildkite.stop();
    github.stop();
    gitlab.stop();
    sourcehut.stop();
  }
}

/** A push: its commit, and the rkey of the legacy pipeline record when the knot sent one. */
interface Push {
  sha: string;
  legacyRkey?: string;
}

/**
 * Pushes a new commit whose .tangled/workflows holds WORKFLOWS and announces it on the knot:
 * the `n`th push as a refUpdate, a refUpdate and a legacy pipeline record, or the legacy
 * record alone, in turn. The one place pushes are made.
 */
function pushTrigger(knot: FakeKnot, n: number): Push {
  const sha = freshSha();
  knot.commit(
    REPO_DID,
    sha,
    WORKFLOWS.map((workflow) => ({ name: workflow.name, content: workflow.raw })),
  );
  const how = n % 3;
  if (how !== 2)
    knot.push("sh.tangled.git.refUpdate", refUpdateRecord({ repo: REPO_DID, newSha: sha }));
  if (how === 0) return { sha };
  const legacyRkey = knot.push(
    "sh.tangled.pipeline",
    pipelineRecord({
      knot: knot.host,
      did: OWNER,
      repo: "app",
      repoDid: REPO_DID,
      workflows: WORKFLOWS,
      sha,
    }),
  );
  return { sha, legacyRkey };
}

/**
 * The pipelines that ran a push: those tack made for its commit (published on /events) and the
 * knot's legacy one if anything ran under it. Exactly one is right.
 */
function pipelinesOf(frames: Frame[], push: Push): string[] {
  const made = frames
    .filter((f) => f.nsid === PIPELINE && pushedSha(f.event) === push.sha)
    .map((f) => f.rkey);
  const legacy = push.legacyRkey;
  const legacyRan =
    legacy !== undefined &&
    frames.some((f) => f.nsid === STATUS && String(f.event.pipeline).endsWith(`/${legacy}`));
  return legacyRan && legacy ? [...made, legacy] : made;
}

function pushedSha(record: Frame["event"]): string | undefined {
  const trigger = record.triggerMetadata;
  if (typeof trigger !== "object" || trigger === null || !("push" in trigger)) return undefined;
  const push = trigger.push;
  return typeof push === "object" && push !== null && "newSha" in push
    ? String(push.newSha)
    : undefined;
}

/**
 * Makes the next create on Buildkite, GitHub, GitLab or sourcehut (chosen at random) kill tack
 * the moment the build, run, pipeline or job exists: before the answer goes out, or right after.
 */
function armCreateKill(
  tack: Running,
  buildkite: FakeBuildkite,
  github: FakeGithub,
  gitlab: FakeGitlab,
  sourcehut: FakeSourcehut,
): { fired: Promise<boolean>; disarm: () => void } {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const afterAnswer = Math.random() < 0.5;
  const kill = () => {
    disarm();
    if (afterAnswer) setTimeout(() => void tack.kill("SIGKILL").then(() => resolve(true)), 0);
    else void tack.kill("SIGKILL").then(() => resolve(true));
  };
  const disarm = () => {
    buildkite.onCreate = undefined;
    github.onDispatch = undefined;
    gitlab.onCreate = undefined;
    sourcehut.onSubmit = undefined;
  };
  const which = Math.floor(Math.random() * 4);
  if (which === 0) buildkite.onCreate = kill;
  else if (which === 1) github.onDispatch = kill;
  else if (which === 2) gitlab.onCreate = kill;
  else sourcehut.onSubmit = kill;
  return { fired: promise, disarm };
}

/** All of `items` when finishing, else `count` picked at random. */
function pick<T>(items: T[], all: boolean, count: number): T[] {
  if (all) return items;
  return Array.from(
    { length: Math.min(count, items.length) },
    () => items[Math.floor(Math.random() * items.length)],
  ).filter((item): item is T => item !== undefined);
}

async function sendBuildkite(
  tack: Running,
  buildkite: FakeBuildkite,
  build: ReturnType<FakeBuildkite["onlyBuild"]>,
  finish: boolean,
): Promise<Acknowledged | undefined> {
  const state = finish || build.state === "running" ? "passed" : "running";
  buildkite.update(
    build,
    state === "passed" ? { state, finished_at: new Date().toISOString() } : { state },
  );
  const event = state === "passed" ? "build.finished" : "build.running";
  const body = JSON.stringify(buildkite.webhook(event, build));
  const headers = buildkiteHeaders({
    mode: "signature",
    secret: BK_SECRET,
    event,
    body,
    nowMs: Date.now(),
  });
  const status = await post(`http://127.0.0.1:${tack.port}/webhooks/buildkite`, headers, body);
  if (status !== 200) return undefined;
  return {
    rkey: build.meta_data["tack:pipeline_rkey"] ?? "",
    workflow: "bk.yml",
    finished: state === "passed",
    what: `buildkite ${build.id}:${state}`,
  };
}

async function sendGithub(
  tack: Running,
  github: FakeGithub,
  run: FakeGithub["runs"] extends Map<number, infer R> ? R : never,
  finish: boolean,
): Promise<Acknowledged | undefined> {
  const completed = finish || run.status === "in_progress";
  github.setRun(
    run.id,
    completed ? { status: "completed", conclusion: "success" } : { status: "in_progress" },
  );
  const body = JSON.stringify({
    action: completed ? "completed" : "in_progress",
    workflow_run: {
      id: run.id,
      display_title: run.display_title,
      status: run.status,
      conclusion: run.conclusion,
      html_url: `https://github.com/${RUNNER_REPO}/actions/runs/${run.id}`,
    },
    repository: { full_name: RUNNER_REPO },
  });
  const headers = {
    "content-type": "application/json",
    "x-github-event": "workflow_run",
    "x-github-delivery": crypto.randomUUID(),
    "x-hub-signature-256": signGithub(GH_SECRET, body),
  };
  const status = await post(`http://127.0.0.1:${tack.port}/webhooks/github`, headers, body);
  if (status !== 200) return undefined;
  return {
    rkey: rkeyOfRun(run),
    workflow: "gh.yml",
    finished: completed,
    what: `github ${run.id}:${run.status}`,
  };
}

async function sendGitlab(
  tack: Running,
  gitlab: FakeGitlab,
  pipeline: FakeGitlab["pipelines"] extends Map<number, infer P> ? P : never,
  finish: boolean,
): Promise<Acknowledged | undefined> {
  const delivery = nextDelivery(gitlab, pipeline, finish);
  const url = `http://127.0.0.1:${tack.port}/webhooks/gitlab`;
  const status = await post(url, delivery.headers, delivery.body);
  if (status !== 200) return undefined;
  return {
    rkey: gitlab.rkeyOf(pipeline),
    workflow: "gl.yml",
    finished: delivery.finished,
    what: `gitlab ${pipeline.id}:${pipeline.status}`,
  };
}

/**
 * Moves a sourcehut job one step as a runner would (queued → running → success; straight to
 * success when `finish`) and sends builds.sr.ht's completion trigger, which makes tack poll the
 * job now. Tack learns the state from that poll, so an acknowledged nudge ("200 polling") counts
 * as a delivery that must show.
 */
async function nudgeSourcehut(
  tack: Running,
  sourcehut: FakeSourcehut,
  job: ReturnType<FakeSourcehut["job"]>,
  finish: boolean,
): Promise<Acknowledged | undefined> {
  if (finish || job.status === "RUNNING") {
    if (job.status !== "SUCCESS") sourcehut.runToEnd(job.id);
  } else if (job.status === "QUEUED" || job.status === "PENDING") sourcehut.start(job.id);
  if ((await nudge(`http://127.0.0.1:${tack.port}`, job)) !== "200 polling") return undefined;
  return {
    rkey: String(job.environment.TACK_PIPELINE_RKEY ?? ""),
    workflow: "srht.yml",
    finished: job.status === "SUCCESS",
    what: `sourcehut ${job.id}:${job.status}`,
  };
}

/** builds.sr.ht's completion trigger for `job`: tack's status and answer ("0" when killed). */
async function nudge(base: string, job: { id: number; note: string | null }): Promise<string> {
  try {
    const response = await fetch(`${base}/webhooks/sourcehut`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: job.id, status: "success", note: job.note, tasks: [] }),
    });
    return `${response.status} ${await response.text()}`;
  } catch {
    return "0";
  }
}

/** The status of a POST, or 0 when tack was killed mid-request (nothing is owed then). */
async function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  try {
    const response = await fetch(url, { method: "POST", headers, body });
    await response.text();
    return response.status;
  } catch {
    return 0;
  }
}

function rkeyOfRun(run: { inputs: Record<string, string> }): string {
  try {
    const tangled: unknown = JSON.parse(run.inputs.tangled ?? "{}");
    if (typeof tangled === "object" && tangled !== null && "pipeline_rkey" in tangled) {
      return String(tangled.pipeline_rkey);
    }
  } catch {}
  return "";
}

const TERMINAL = new Set(["success", "failed", "timeout", "cancelled"]);
const STATUS = "sh.tangled.pipeline.status";
const PIPELINE = "sh.tangled.pipeline";

interface Frame {
  created: bigint;
  rkey: string;
  nsid: string;
  event: { pipeline: string; workflow: string; status: string; triggerMetadata?: unknown };
}

/** Every push has a pipeline and every workflow of it has ended. */
function allFinished(frames: Frame[], pushes: Push[]): boolean {
  return pushes.every((push) => {
    const rkey = pipelinesOf(frames, push)[0];
    return (
      rkey !== undefined &&
      WORKFLOWS.every(({ name }) =>
        frames.some(
          (f) =>
            f.nsid === STATUS &&
            f.event.pipeline.endsWith(`/${rkey}`) &&
            f.event.workflow === name &&
            TERMINAL.has(f.event.status),
        ),
      )
    );
  });
}

/** Reads /events from the start until `done` holds for the frames seen. */
async function readEvents(
  port: number,
  done: (frames: Frame[]) => boolean,
  timeoutMs: number,
): Promise<Frame[]> {
  const frames: Frame[] = [];
  const socket = new WebSocket(`ws://127.0.0.1:${port}/events`);
  socket.onmessage = (message) => {
    const text = String(message.data);
    const parsed = JSON.parse(text) as Omit<Frame, "created">;
    frames.push({ ...parsed, created: BigInt(/"created":(\d+)/.exec(text)?.[1] ?? "0") });
  };
  // On timeout the frames so far are returned: the report then names what never finished.
  await until(() => done(frames), "every workflow finished on /events", timeoutMs).catch(() => {});
  socket.close();
  return frames;
}

/** Spawns `command` (a tack) and resolves once its log says it is listening, with its port. */
export async function startTack(
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
  // Keep draining stdout so a chatty process never blocks on a full pipe; CRASH_TEST_LOG names
  // a file to keep tack's log lines in, for a run that reports a problem.
  const keep = process.env.CRASH_TEST_LOG;
  if (keep) appendFileSync(keep, text);
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (keep) appendFileSync(keep, value);
    }
  })().catch(() => {});
  return {
    port,
    exited: child.exited,
    kill: async (signal) => {
      child.kill(signal);
      return child.exited;
    },
  };
}
