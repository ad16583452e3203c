/**
 * Shared set-up for the GitHub provider tests: the GitHub stand-in, the real service pointed
 * at it (or the provider alone on an in-memory database with short timings), GitHub-shaped
 * webhook payloads from test/fixtures/github, and condition waits (never sleeps).
 */
import { afterEach } from "bun:test";
import type { Clock } from "../../../src/clock.ts";
import type { EventStore } from "../../../src/eventlog/store.ts";
import { silentLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/metrics.ts";
import { dispatchWorkflow } from "../../../src/pipeline/dispatch.ts";
import type { WorkflowId, Workflows } from "../../../src/pipeline/workflows.ts";
import { WebhookDeliveries } from "../../../src/providers/deliveries.ts";
import type { GithubConfig } from "../../../src/providers/github/config.ts";
import { createGithubProvider } from "../../../src/providers/github/provider.ts";
import type { GithubTuning } from "../../../src/providers/github/tuning.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { ProviderRegistry } from "../../../src/providers/registry.ts";
import { SpawnAttempts } from "../../../src/providers/spawn-attempts.ts";
import inProgressJob from "../../fixtures/github/workflow_job.in_progress.json";
import completedRun from "../../fixtures/github/workflow_run.completed.json";
import { fastClock } from "../../helpers/clock.ts";
import {
  FakeGithub,
  GITHUB_TOKEN,
  RUNNER_REPO,
  RUNNER_WORKFLOW,
} from "../../helpers/fake-github.ts";
import { memoryTack } from "../../helpers/memory.ts";
import { WEBHOOK_SECRET } from "../../helpers/sign-github.ts";
import { captureLogger, startTestTack, type TestTack } from "../../helpers/tack.ts";
import { until } from "../../helpers/wait.ts";
import { publishedStatuses } from "../statuses.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

export const KNOT = "knot.test:6000";
export const REPO_DID = "did:plc:owner000000000000000000";
export const SHA = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";

export function startFakeGithub(): FakeGithub {
  const github = FakeGithub.start();
  cleanup.push(() => github.stop());
  return github;
}

export function githubConfig(github: FakeGithub): GithubConfig {
  return { token: GITHUB_TOKEN, webhookSecret: WEBHOOK_SECRET, apiUrl: github.url };
}

/**
 * The real service with the GitHub provider pointed at the stand-in, on a fast clock (the
 * provider's default timings then pass 40 times faster); stopped after the test.
 */
export async function githubTack(
  github: FakeGithub,
  dir?: string,
  clock: Clock = fastClock(),
): Promise<TestTack> {
  const service = await startTestTack({
    dir,
    config: { providers: { github: githubConfig(github) } },
    overrides: { clock },
  });
  cleanup.push(() => service[Symbol.asyncDispose]());
  return service;
}

/** Short timings for tests that exercise polling (on top of the fast clock). */
export const FAST: Partial<GithubTuning> = {
  discoveryDelaysMs: [200, 200, 200, 200, 200],
  discoveryTimeoutMs: 60_000,
  listDelayMs: 2_000,
  reconcileIntervalMs: 250,
  staleAfterMs: 0,
  logFollowIntervalMs: 250,
  http: {
    attempts: 3,
    backoffMs: 100,
    maxBackoffMs: 1_000,
    maxRateLimitWaitMs: 20_000,
    timeoutMs: 2_000,
  },
};

/** The provider alone, on an in-memory database, with the given timings, on a fast clock. */
export function githubProvider(github: FakeGithub, tuning: Partial<GithubTuning> = FAST) {
  const clock = fastClock();
  const tack = memoryTack(clock);
  const { log, lines: logs } = captureLogger();
  const provider = createGithubProvider(
    githubConfig(github),
    {
      db: tack.database.db,
      writer: tack.writer,
      workflows: tack.workflows,
      deliveries: new WebhookDeliveries(tack.database.db),
      attempts: new SpawnAttempts(tack.database.db, tack.writer),
      log,
      clock,
      metrics: new Metrics(),
      fetch,
      redactor: new Redactor([]),
      dev: true,
    },
    tuning,
  );
  cleanup.push(() => provider.stop());
  const providers = new ProviderRegistry([provider]);
  return { ...tack, provider, providers, logs, clock };
}

let counter = 0;
/** A fresh workflow id (pipeline rkeys must differ between workflows of one database). */
export function newWorkflowId(name = "ci.yml"): WorkflowId {
  counter++;
  return { knot: KNOT, pipelineRkey: `3m6mxh2znw2${String(counter).padStart(2, "2")}`, name };
}

/** A push trigger's metadata, as the knot sends it. */
export function pushContext() {
  return {
    kind: "push",
    push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/heads/main" },
    repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
  };
}

export const RUNNER_OPTIONS = { repo: RUNNER_REPO, workflow: RUNNER_WORKFLOW };

/** Routes one workflow to the github provider as the trigger processor would. */
export function dispatchGithub(
  target: { workflows: Workflows; providers: ProviderRegistry },
  id: WorkflowId,
  options: unknown = RUNNER_OPTIONS,
  context: unknown = pushContext(),
) {
  return dispatchWorkflow(
    { workflows: target.workflows, providers: target.providers, log: silentLogger },
    {
      id,
      provider: "github",
      options: JSON.parse(JSON.stringify(options)),
      context: JSON.parse(JSON.stringify(context)),
    },
  );
}

export function serviceTarget(service: TestTack) {
  return { workflows: service.tack.workflows, providers: service.tack.providers };
}

/** A workflow_run payload (the fixture, with this run's id, title, status and conclusion). */
export function runPayload(run: {
  id: number;
  display_title: string;
  status: string;
  conclusion: string | null;
  action?: string;
}) {
  const payload = structuredClone(completedRun);
  const action =
    run.action ??
    (run.status === "completed"
      ? "completed"
      : run.status === "in_progress"
        ? "in_progress"
        : "requested");
  return {
    ...payload,
    action,
    workflow_run: {
      ...payload.workflow_run,
      id: run.id,
      display_title: run.display_title,
      status: run.status,
      conclusion: run.conclusion,
      html_url: `https://github.com/${RUNNER_REPO}/actions/runs/${run.id}`,
    },
  };
}

/** A workflow_job payload for a job of run `runId`. */
export function jobPayload(runId: number, status: string, action = status) {
  const payload = structuredClone(inProgressJob);
  return {
    ...payload,
    action,
    workflow_job: { ...payload.workflow_job, run_id: runId, status },
  };
}

/** The statuses published for one workflow, oldest first (status and error). */
export function statusesOf(
  store: EventStore,
  id: WorkflowId,
): { status: string; error?: string }[] {
  return publishedStatuses(store, id).map(({ status, error }) =>
    error === undefined ? { status } : { status, error },
  );
}

export { until };
