/**
 * The Buildkite tests' common set-up: the real service (startTestTack) configured for
 * Buildkite with its API pointed at a local stand-in, helpers to dispatch a workflow to it,
 * to deliver webhooks signed the way Buildkite signs them, and to read back what tack wrote.
 */
import type { Clock } from "../../../src/clock.ts";
import type { JsonValue } from "../../../src/eventlog/canonical-json.ts";
import { silentLogger } from "../../../src/log.ts";
import { type DispatchOutcome, dispatchWorkflow } from "../../../src/pipeline/dispatch.ts";
import type { StoredWorkflow, WorkflowId } from "../../../src/pipeline/workflows.ts";
import { fastClock } from "../../helpers/clock.ts";
import { FakeBuildkite } from "../../helpers/fake-buildkite.ts";
import { buildkiteHeaders } from "../../helpers/sign-buildkite.ts";
import { startTestTack, type TestTack } from "../../helpers/tack.ts";
import { until } from "../../helpers/wait.ts";
import { OWNER } from "../../helpers/wire.ts";
import { publishedStatuses } from "../statuses.ts";

export const TOKEN = "bk-test-token-0123456789";
export const SECRET = "whsec-buildkite-test-0123456789abcdef";
export const ORG = "acme";
export const KNOT = "knot.example.com";
export const SHA = "3f4c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";

export function pushContext(ref = "refs/heads/main", sha = SHA) {
  return {
    kind: "push",
    repo: { did: OWNER, knot: KNOT, repo: "app", defaultBranch: "main" },
    push: { ref, newSha: sha, oldSha: "0".repeat(40) },
  };
}

export function pullRequestContext() {
  return {
    kind: "pull_request",
    repo: { did: OWNER, knot: KNOT, repo: "app", defaultBranch: "main" },
    pullRequest: {
      sourceBranch: "feature/login",
      targetBranch: "main",
      sourceSha: SHA,
      action: "create",
    },
  };
}

let rkeys = 0;
/** A fresh pipeline rkey per call, so tests never share a workflow. */
export function newRkey(): string {
  rkeys++;
  return `3m6mxh2znw${String(rkeys).padStart(3, "2")}`;
}

export interface Harness extends AsyncDisposable {
  service: TestTack;
  fake: FakeBuildkite;
  clock: Clock;
  mode: "token" | "signature";
  dispatch(
    name: string,
    options?: JsonValue,
    context?: JsonValue,
    rkey?: string,
  ): Promise<{ id: WorkflowId; outcome: DispatchOutcome }>;
  /** POSTs a webhook, signed for this harness's mode unless `headers` replaces them. */
  send(
    payload: unknown,
    options?: { event?: string; headers?: Record<string, string>; raw?: string },
  ): Promise<{ status: number; body: string }>;
  workflow(id: WorkflowId): StoredWorkflow | undefined;
  /** Statuses of the workflow in the event log, oldest first. */
  statuses(id: WorkflowId): { status: string; error?: string; exitCode?: number }[];
  eventCount(): number;
  deliveryCount(): number;
  buildRows(): Record<string, unknown>[];
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

export async function startHarness(
  options: {
    mode?: "token" | "signature";
    clock?: Clock;
    dir?: string;
    fake?: FakeBuildkite;
    /** For end-to-end tests: a local Jetstream to follow. */
    jetstreamUrl?: string;
  } = {},
): Promise<Harness> {
  const fake = options.fake ?? FakeBuildkite.start(TOKEN);
  const mode = options.mode ?? "signature";
  const clock = options.clock ?? fastClock();
  const service = await startTestTack({
    dir: options.dir,
    config: {
      providers: {
        buildkite: {
          token: TOKEN,
          org: ORG,
          webhookSecret: SECRET,
          webhookMode: mode,
          apiUrl: fake.url,
        },
      },
      ...(options.jetstreamUrl ? { jetstreamUrl: options.jetstreamUrl } : {}),
    },
    overrides: { clock, streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 } },
  });
  const sqlite = service.tack.database.sqlite;
  const count = (sql: string) => Number((sqlite.query(sql).get() as { n: bigint }).n);
  return {
    service,
    fake,
    clock,
    mode,
    async dispatch(name, workflowOptions = { pipeline: "app-ci" }, context = pushContext(), rkey) {
      const id = { knot: KNOT, pipelineRkey: rkey ?? newRkey(), name };
      const outcome = await dispatchWorkflow(
        { workflows: service.tack.workflows, providers: service.tack.providers, log: silentLogger },
        { id, provider: "buildkite", options: workflowOptions, context },
      );
      return { id, outcome };
    },
    async send(payload, sendOptions = {}) {
      const body = sendOptions.raw ?? JSON.stringify(payload);
      const event =
        sendOptions.event ??
        (typeof payload === "object" && payload !== null && "event" in payload
          ? String(payload.event)
          : "build.running");
      const headers =
        sendOptions.headers ??
        buildkiteHeaders({ mode, secret: SECRET, event, body, nowMs: clock.now() });
      const response = await fetch(`${service.http}/webhooks/buildkite`, {
        method: "POST",
        headers,
        body,
      });
      return { status: response.status, body: await response.text() };
    },
    workflow: (id) => service.tack.workflows.get(id),
    statuses: (id) => publishedStatuses(service.tack.broker.store, id),
    eventCount: () => count("select count(*) as n from events"),
    deliveryCount: () => count("select count(*) as n from webhook_deliveries"),
    buildRows: () =>
      sqlite.query("select * from buildkite_builds order by created_at").all() as Record<
        string,
        unknown
      >[],
    until,
    async [Symbol.asyncDispose]() {
      await service[Symbol.asyncDispose]();
      if (!options.fake) fake.stop();
    },
  };
}

export { fastClock, recordingClock } from "../../helpers/clock.ts";
export { until };
