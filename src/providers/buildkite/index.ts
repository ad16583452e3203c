/**
 * The Buildkite provider: one Buildkite build per workflow, state from signed webhooks
 * confirmed against the API, reconciliation polls for lost webhooks, job logs on /logs, cancel.
 * Operator guide: docs/buildkite.md.
 *
 * Files, one role each (the same names in every provider folder): config.ts (TACK_BUILDKITE_*),
 * options.ts (the tack.buildkite block), request.ts (what the build receives), spawn.ts (create
 * it, once), client.ts (REST), schemas.ts (wire shapes), verify.ts (webhook auth), webhook.ts
 * (the webhook contract), states.ts (Buildkite state → Tangled status), track.ts (apply a
 * sighting), table.ts and builds.ts (the buildkite_builds table and its owner), reconcile.ts
 * (polls), logs.ts and log-text.ts (/logs), cancel.ts, check.ts (`tack check`), tuning.ts.
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps, ProviderDescriptor } from "../provider.ts";
import { BuildkiteBuilds } from "./builds.ts";
import { cancelBuild } from "./cancel.ts";
import { checkBuildkite } from "./check.ts";
import { createBuildkiteClient } from "./client.ts";
import { BUILDKITE_ENV, type BuildkiteConfig, configureBuildkite } from "./config.ts";
import { openBuildLogs } from "./logs.ts";
import { optionsProblem } from "./options.ts";
import { Reconciler } from "./reconcile.ts";
import { PROVIDER, spawnBuild } from "./spawn.ts";
import { BuildTracker } from "./track.ts";
import { type BuildkiteTuning, DEFAULT_BUILDKITE_TUNING } from "./tuning.ts";
import { handleWebhook } from "./webhook.ts";

export const buildkite = {
  name: PROVIDER,
  title: "Buildkite",
  docs: "docs/buildkite.md",
  env: BUILDKITE_ENV,
  enabledBy: "TACK_BUILDKITE_TOKEN",
  configure: configureBuildkite,
  secrets: (config) => [config.token, config.webhookSecret],
  create: (config, deps) => createBuildkiteProvider(config, deps),
  check: (config, deps) =>
    checkBuildkite(createBuildkiteClient(config, deps, CHECK_HTTP_TUNING), config.org),
} satisfies ProviderDescriptor<"buildkite", BuildkiteConfig>;

/** `tuning` exists for tests and benchmarks; production uses the defaults. */
export function createBuildkiteProvider(
  config: BuildkiteConfig,
  deps: ProviderDeps,
  overrides: Partial<BuildkiteTuning> = {},
): Provider {
  const tuning: BuildkiteTuning = { ...DEFAULT_BUILDKITE_TUNING, ...overrides };
  // Aborted by stop(): ends waits and in-flight requests of background work.
  const lifetime = new AbortController();
  const client = createBuildkiteClient(config, { ...deps, signal: lifetime.signal }, tuning.http);
  const builds = new BuildkiteBuilds(deps.db);
  const tracker = new BuildTracker({ ...deps, builds });
  const reconciler = new Reconciler(
    { ...deps, builds, client, tracker, defaultOrg: config.org },
    tuning.reconcile,
  );
  reconciler.start();

  return {
    name: PROVIDER,
    checkOptions: optionsProblem,
    spawn: (workflow, variables) =>
      spawnBuild(
        { ...deps, client, builds, tracker, defaultOrg: config.org, tuning: tuning.spawn },
        workflow,
        variables,
      ),
    logs: (workflow, signal) =>
      openBuildLogs({ ...deps, client, builds, tuning: tuning.logs }, workflow, signal),
    cancel: (workflow) => cancelBuild({ client, builds, defaultOrg: config.org }, workflow),
    resume: async (workflows) => reconciler.resume(workflows),
    async stop() {
      lifetime.abort();
      await reconciler.stop();
    },
    webhook: (request) =>
      handleWebhook(
        {
          ...deps,
          secret: config,
          defaultOrg: config.org,
          builds,
          tracker,
          client,
          confirmTimeoutMs: tuning.confirmTimeoutMs,
        },
        request,
      ),
    prune: (tx, cutoffMs, limit) => builds.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
