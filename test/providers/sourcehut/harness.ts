/**
 * Shared set-up for the sourcehut provider tests, and for tests that run sourcehut beside other
 * CIs (the mixed-provider test, the crash harness): the builds.sr.ht stand-in, the config and
 * environment that point tack at it, the real service or the provider alone on an in-memory
 * database with short timings, and condition waits (never sleeps).
 */
import { afterEach } from "bun:test";
import type { Clock } from "../../../src/clock.ts";
import type { EventStore } from "../../../src/eventlog/store.ts";
import { silentLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/metrics.ts";
import { dispatchWorkflow } from "../../../src/pipeline/dispatch.ts";
import type { WorkflowId, Workflows } from "../../../src/pipeline/workflows.ts";
import { WebhookDeliveries } from "../../../src/providers/deliveries.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { ProviderRegistry } from "../../../src/providers/registry.ts";
import type { SourcehutConfig } from "../../../src/providers/sourcehut/config.ts";
import { createSourcehutProvider } from "../../../src/providers/sourcehut/provider.ts";
import type { SourcehutTuning } from "../../../src/providers/sourcehut/tuning.ts";
import { SpawnAttempts } from "../../../src/providers/spawn-attempts.ts";
import { fastClock } from "../../helpers/clock.ts";
import { FakeSourcehut, SOURCEHUT_TOKEN } from "../../helpers/fake-sourcehut.ts";
import { memoryTack } from "../../helpers/memory.ts";
import { captureLogger, startTestTack, type TestTack } from "../../helpers/tack.ts";
import { eventually, until } from "../../helpers/wait.ts";
import { publishedStatuses } from "../statuses.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

export const KNOT = "knot.test:6000";
export const REPO_DID = "did:plc:owner000000000000000000";
export const SHA = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";

/** A manifest with two tasks, as a workflow's author writes it. */
export const MANIFEST = `image: alpine/edge
# the author's comment stays
environment:
  GREETING: hello
tasks:
  - build: |
      echo build
  - test: |
      echo test
`;

/** A workflow file routed to sourcehut, as a knot sends it (for pushTrigger and the like). */
export const SOURCEHUT_WORKFLOW = `engine: tack
tack:
  sourcehut:
    manifest: |
      image: alpine/edge
      tasks:
        - build: echo build
`;

export function startFakeSourcehut(): FakeSourcehut {
  const sourcehut = FakeSourcehut.start();
  cleanup.push(() => sourcehut.stop());
  return sourcehut;
}

/** The provider's config pointed at the stand-in (for startTestTack's `providers`). */
export function sourcehutConfig(
  sourcehut: FakeSourcehut,
  token: string = SOURCEHUT_TOKEN,
): SourcehutConfig {
  return { token, instance: sourcehut.url, instances: [sourcehut.url] };
}

/** The real service with the provider pointed at the stand-in, on a fast clock. */
export async function sourcehutTack(
  sourcehut: FakeSourcehut,
  options: { dir?: string; clock?: Clock; token?: string } = {},
): Promise<TestTack> {
  const service = await startTestTack({
    dir: options.dir,
    config: { providers: { sourcehut: sourcehutConfig(sourcehut, options.token) } },
    overrides: { clock: options.clock ?? fastClock() },
  });
  cleanup.push(() => service[Symbol.asyncDispose]());
  return service;
}

/** Short timings for tests that exercise polling (on top of the fast clock). */
export const FAST: Partial<SourcehutTuning> = {
  minPollMs: 200,
  maxPollMs: 1_000,
  cancelWatchMs: 200,
  idleWakeMs: 1_000,
  listDelayMs: 1_000,
  discoveryTimeoutMs: 20_000,
  logFollowIntervalMs: 200,
  nudgeGapMs: 1_000,
  http: {
    attempts: 3,
    backoffMs: 100,
    maxBackoffMs: 1_000,
    maxRateLimitWaitMs: 20_000,
    timeoutMs: 2_000,
  },
};

/** The provider alone, on an in-memory (or given) database, with the given timings. */
export function sourcehutProvider(
  sourcehut: FakeSourcehut,
  options: {
    tuning?: Partial<SourcehutTuning>;
    token?: string;
    clock?: Clock;
    path?: string;
    config?: Partial<SourcehutConfig>;
  } = {},
) {
  const clock = options.clock ?? fastClock();
  const tack = memoryTack(clock, options.path);
  const { log, lines: logs } = captureLogger();
  const config = { ...sourcehutConfig(sourcehut, options.token), ...options.config };
  const provider = createSourcehutProvider(
    config,
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
      redactor: new Redactor([config.token]),
      dev: true,
    },
    { ...FAST, ...options.tuning },
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await provider.stop();
    tack.database.close();
  };
  cleanup.push(stop);
  const providers = new ProviderRegistry([provider]);
  return { ...tack, provider, providers, logs, clock, stop };
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

/** Routes one workflow to the sourcehut provider as the pipeline runner would. */
export function dispatchSourcehut(
  target: { workflows: Workflows; providers: ProviderRegistry },
  id: WorkflowId,
  options: unknown = { manifest: MANIFEST },
  variables: Record<string, string> = {},
) {
  return dispatchWorkflow(
    {
      workflows: target.workflows,
      providers: target.providers,
      log: silentLogger,
      buildVariables: async () => variables,
    },
    {
      id,
      provider: "sourcehut",
      options: JSON.parse(JSON.stringify(options)),
      context: JSON.parse(JSON.stringify(pushContext())),
    },
  );
}

/**
 * The completion trigger builds.sr.ht sends when a manifest asks for it, POSTed to tack at
 * `http` until tack heeds it ("200 polling"): tack then polls the job at once instead of at its
 * next scheduled poll (up to a minute away), which keeps tests of a real tack process short. A
 * tack that has not linked the job yet (a restart still searching) answers "ignored" meanwhile;
 * one whose own poll already saw the job end answers "already final", which ends the wait too.
 */
export function nudgeTack(http: string, job: { id: number; note: string | null } | undefined) {
  return eventually(
    async () => {
      const response = await fetch(`${http}/webhooks/sourcehut`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: job?.id, status: "success", note: job?.note, tasks: [] }),
      });
      return `${response.status} ${await response.text()}`;
    },
    // "already final": tack's own poll saw the job end first (the fast clock polls often).
    (answer) => answer === "200 polling" || answer === "200 already final",
    "tack heeds the completion nudge",
    20_000,
  );
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
