/**
 * The GitHub provider itself, loaded only when it is configured (index.ts holds what
 * configuration and `tack check` read at start).
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { GithubRuns } from "./builds.ts";
import { cancelRun } from "./cancel.ts";
import { checkGithub } from "./check.ts";
import { createGithubClient } from "./client.ts";
import { type GithubConfig, PROVIDER } from "./config.ts";
import { openRunLog } from "./logs.ts";
import { checkGithubOptions } from "./options.ts";
import { Reconciler } from "./reconcile.ts";
import { RunDispatcher } from "./spawn.ts";
import { RunTracker } from "./track.ts";
import { DEFAULT_GITHUB_TUNING, type GithubTuning } from "./tuning.ts";
import { createWebhookHandler } from "./webhook.ts";

/**
 * What `tack check` asks the CI's API with this configuration. No logger: `tack check` reports
 * the token's expiry in its own row.
 */
export function checkGithubConfiguration(
  config: GithubConfig,
  { fetch, clock, redactor }: ProviderDeps,
) {
  return checkGithub(
    createGithubClient(config, { fetch, clock, redactor }, CHECK_HTTP_TUNING),
    config.apiUrl,
  );
}

/** `tuning` exists for tests; production uses the defaults. */
export function createGithubProvider(
  config: GithubConfig,
  deps: ProviderDeps,
  overrides: Partial<GithubTuning> = {},
): Provider {
  const tuning: GithubTuning = { ...DEFAULT_GITHUB_TUNING, ...overrides };
  const log = deps.log;
  // Aborted by stop(): ends timers, discovery waits and in-flight API calls of background work.
  const lifetime = new AbortController();
  const client = createGithubClient(config, { ...deps, signal: lifetime.signal }, tuning.http);
  const runs = new GithubRuns(deps.db, deps.writer, deps.clock);
  const tracker = new RunTracker({ ...deps, runs });
  const dispatcher = new RunDispatcher({
    ...deps,
    client,
    runs,
    tracker,
    tuning,
    signal: lifetime.signal,
  });
  const reconciler = new Reconciler({
    ...deps,
    client,
    runs,
    dispatcher,
    tracker,
    tuning,
    signal: lifetime.signal,
  });
  reconciler.start();

  return {
    name: PROVIDER,
    checkOptions: checkGithubOptions,
    spawn: (workflow, variables) => dispatcher.spawn(workflow, variables),
    logs: (workflow, signal) =>
      openRunLog(
        { ...deps, client, runs, tracker, followIntervalMs: tuning.logFollowIntervalMs },
        workflow,
        signal,
      ),
    cancel: (workflow) =>
      cancelRun({ client, runs, dispatcher, tracker, clock: deps.clock, tuning }, workflow),
    async resume(workflows) {
      // In the background: startup must not wait on GitHub. Every open run is polled once,
      // whatever its last webhook, since deliveries sent while tack was down are lost.
      log.info("github: reconciling runs left unfinished", { count: workflows.length });
      void reconciler.pass(true);
    },
    async stop() {
      lifetime.abort();
      await reconciler.stopped();
    },
    webhook: createWebhookHandler({
      db: deps.db,
      secret: config.webhookSecret,
      runs,
      tracker,
      deliveries: deps.deliveries,
      log,
    }),
    prune: (tx, cutoffMs, limit) => runs.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
