/**
 * The Buildkite provider: one Buildkite build per workflow, state from signed
 * webhooks confirmed against the API, reconciliation polls for lost webhooks, job logs on
 * /logs, cancel. Operator guide: docs/buildkite.md.
 *
 * Files, one role each: options.ts (the tack.buildkite block), spawn.ts (create the build),
 * client.ts (REST), verify.ts (webhook auth), webhook.ts (the webhook contract), states.ts
 * (Buildkite state → Tangled status), track.ts (apply a sighting), builds.ts (the
 * buildkite_builds table), reconcile.ts (polls), logs.ts and log-text.ts (/logs), cancel.ts,
 * check.ts (`tack check`).
 *
 * `tuning` exists for tests and benchmarks; production uses the defaults. Every wait goes
 * through `deps.clock`, so a test clock also speeds up polls, backoffs and rate-limit waits.
 */
import type { BuildkiteConfig } from "../../config.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { BuildkiteBuilds } from "./builds.ts";
import { cancelBuild } from "./cancel.ts";
import { checkBuildkite } from "./check.ts";
import { BuildkiteClient, type ClientTuning, DEFAULT_CLIENT_TUNING } from "./client.ts";
import { DEFAULT_LOGS_TUNING, type LogsTuning, openBuildLogs } from "./logs.ts";
import { optionsProblem } from "./options.ts";
import { DEFAULT_RECONCILE_TUNING, Reconciler, type ReconcileTuning } from "./reconcile.ts";
import { spawnBuild } from "./spawn.ts";
import { BuildTracker } from "./track.ts";
import { handleWebhook, PROVIDER } from "./webhook.ts";

export interface BuildkiteTuning {
  client: ClientTuning;
  reconcile: ReconcileTuning;
  logs: LogsTuning;
}

export function createBuildkiteProvider(
  config: BuildkiteConfig,
  deps: ProviderDeps,
  tuning: Partial<BuildkiteTuning> = {},
): Provider {
  const clientTuning = tuning.client ?? DEFAULT_CLIENT_TUNING;
  const client = new BuildkiteClient(
    { token: config.token, apiUrl: config.apiUrl },
    { fetch: deps.fetch, clock: deps.clock },
    clientTuning,
  );
  const builds = new BuildkiteBuilds(deps.db);
  const shared = { builds, workflows: deps.workflows, writer: deps.writer, clock: deps.clock };
  const tracker = new BuildTracker({ ...shared, log: deps.log, defaultOrg: config.org });
  const reconciler = new Reconciler(
    { ...shared, client, tracker, log: deps.log, defaultOrg: config.org },
    tuning.reconcile ?? DEFAULT_RECONCILE_TUNING,
  );
  reconciler.start();

  return {
    name: PROVIDER,
    checkOptions: optionsProblem,
    spawn: (workflow) =>
      spawnBuild(
        { ...shared, client, log: deps.log, defaultOrg: config.org, tuning: clientTuning },
        workflow,
      ),
    logs: (workflow, signal) =>
      openBuildLogs(
        { ...shared, client, tuning: tuning.logs ?? DEFAULT_LOGS_TUNING },
        workflow,
        signal,
      ),
    cancel: (workflow) => cancelBuild({ client, builds, tracker }, workflow),
    resume: async (workflows) => reconciler.resume(workflows),
    stop: () => reconciler.stop(),
    webhook: (request) =>
      handleWebhook(
        {
          secret: config,
          workflows: deps.workflows,
          deliveries: deps.deliveries,
          tracker,
          client,
          clock: deps.clock,
          log: deps.log,
        },
        request,
      ),
    check: () => checkBuildkite(client, config.org),
    prune: (tx, cutoffMs, limit) => builds.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
