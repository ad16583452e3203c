/**
 * The Buildkite provider itself, loaded only when it is configured (index.ts holds what
 * configuration and `tack check` read at start).
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { BuildkiteBuilds } from "./builds.ts";
import { cancelBuild } from "./cancel.ts";
import { checkBuildkite } from "./check.ts";
import { createBuildkiteClient } from "./client.ts";
import { type BuildkiteConfig, PROVIDER } from "./config.ts";
import { openBuildLogs } from "./logs.ts";
import { optionsProblem } from "./options.ts";
import { Reconciler } from "./reconcile.ts";
import { spawnBuild } from "./spawn.ts";
import { BuildTracker } from "./track.ts";
import { type BuildkiteTuning, DEFAULT_BUILDKITE_TUNING } from "./tuning.ts";
import { handleWebhook } from "./webhook.ts";

/** What `tack check` asks the CI's API with this configuration. */
export function checkBuildkiteConfiguration(config: BuildkiteConfig, deps: ProviderDeps) {
  return checkBuildkite(createBuildkiteClient(config, deps, CHECK_HTTP_TUNING), config.org);
}

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
