/**
 * Shared set-up for the GitLab provider tests: the GitLab stand-in, the real service pointed at
 * it (or the provider alone on an in-memory database with short timings), and condition waits
 * (never sleeps). `gitlabConfig` is what any test (the mixed-provider one, the crash harness
 * through `gitlabEnv`) uses to point tack at the stand-in.
 */
import { afterEach } from "bun:test";
import type { Clock } from "../../../src/clock.ts";
import type { EventStore } from "../../../src/eventlog/store.ts";
import { silentLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/metrics.ts";
import { dispatchWorkflow } from "../../../src/pipeline/dispatch.ts";
import type { WorkflowId, Workflows } from "../../../src/pipeline/workflows.ts";
import { WebhookDeliveries } from "../../../src/providers/deliveries.ts";
import { configureGitlab, type GitlabConfig } from "../../../src/providers/gitlab/config.ts";
import { createGitlabProvider } from "../../../src/providers/gitlab/provider.ts";
import type { GitlabTuning } from "../../../src/providers/gitlab/tuning.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { ProviderRegistry } from "../../../src/providers/registry.ts";
import { SpawnAttempts } from "../../../src/providers/spawn-attempts.ts";
import { fastClock } from "../../helpers/clock.ts";
import { FakeGitlab, gitlabEnv, RUNNER_PROJECT } from "../../helpers/fake-gitlab.ts";
import { memoryTack } from "../../helpers/memory.ts";
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

export function startFakeGitlab(): FakeGitlab {
  const gitlab = FakeGitlab.start();
  cleanup.push(() => gitlab.stop());
  return gitlab;
}

/** The provider's config for the stand-in, read from the variables an operator would set. */
export function gitlabConfig(gitlab: FakeGitlab, env: Record<string, string> = {}): GitlabConfig {
  const config = configureGitlab({ ...gitlabEnv(gitlab), ...env });
  if (!config) throw new Error("gitlab not configured");
  return config;
}

/**
 * The real service with the GitLab provider pointed at the stand-in, on a fast clock (the
 * provider's default timings then pass 40 times faster); stopped after the test.
 */
export async function gitlabTack(
  gitlab: FakeGitlab,
  options: { dir?: string; clock?: Clock; fetch?: typeof fetch } = {},
): Promise<TestTack> {
  const service = await startTestTack({
    dir: options.dir,
    config: { providers: { gitlab: gitlabConfig(gitlab) } },
    overrides: {
      clock: options.clock ?? fastClock(),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
  });
  cleanup.push(() => service[Symbol.asyncDispose]());
  return service;
}

/** Short timings for tests that exercise polling (on top of the fast clock). */
export const FAST: Partial<GitlabTuning> = {
  listDelayMs: 2_000,
  discoveryTimeoutMs: 60_000,
  reconcileIntervalMs: 250,
  staleAfterMs: 0,
  logFollowIntervalMs: 250,
  confirmTimeoutMs: 2_000,
  http: {
    attempts: 3,
    backoffMs: 100,
    maxBackoffMs: 1_000,
    maxRateLimitWaitMs: 20_000,
    timeoutMs: 2_000,
  },
};

/** The provider alone, on an in-memory database, with the given timings, on a fast clock. */
export function gitlabProvider(
  gitlab: FakeGitlab,
  tuning: Partial<GitlabTuning> = FAST,
  env: Record<string, string> = {},
) {
  const clock = fastClock();
  const tack = memoryTack(clock);
  const { log, lines: logs } = captureLogger();
  const provider = createGitlabProvider(
    gitlabConfig(gitlab, env),
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
  return { knot: KNOT, pipelineRkey: `3m6mxh2znw3${String(counter).padStart(2, "2")}`, name };
}

/** A push trigger's metadata, as the knot sends it. */
export function pushContext() {
  return {
    kind: "push",
    push: { newSha: SHA, oldSha: "0".repeat(40), ref: "refs/heads/main" },
    repo: { defaultBranch: "main", did: REPO_DID, knot: KNOT, repo: "app" },
  };
}

export const RUNNER_OPTIONS = { project: RUNNER_PROJECT };

/** Routes one workflow to the gitlab provider as the trigger processor would. */
export function dispatchGitlab(
  target: { workflows: Workflows; providers: ProviderRegistry },
  id: WorkflowId,
  options: unknown = RUNNER_OPTIONS,
  context: unknown = pushContext(),
) {
  return dispatchWorkflow(
    { workflows: target.workflows, providers: target.providers, log: silentLogger },
    {
      id,
      provider: "gitlab",
      options: JSON.parse(JSON.stringify(options)),
      context: JSON.parse(JSON.stringify(context)),
    },
  );
}

export function serviceTarget(service: TestTack) {
  return { workflows: service.tack.workflows, providers: service.tack.providers };
}

/** The pipeline row tack keeps for a workflow. */
export function pipelineRow(database: { sqlite: import("bun:sqlite").Database }, rkey: string) {
  return database.sqlite
    .query(
      "select correlation_id, project, ref, project_id, pipeline_id, web_url, state from gitlab_pipelines where pipeline_rkey = ?",
    )
    .get(rkey) as {
    correlation_id: string;
    project: string;
    ref: string;
    project_id: bigint | null;
    pipeline_id: bigint | null;
    web_url: string | null;
    state: string | null;
  } | null;
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
