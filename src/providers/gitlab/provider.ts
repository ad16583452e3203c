/**
 * The GitLab provider itself, loaded only when it is configured (index.ts holds what
 * configuration and `tack check` read at start).
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { GitlabPipelines } from "./builds.ts";
import { cancelPipeline } from "./cancel.ts";
import { checkGitlab } from "./check.ts";
import { createGitlabClient } from "./client.ts";
import { type GitlabConfig, PROVIDER } from "./config.ts";
import { openPipelineLog } from "./logs.ts";
import { checkGitlabOptions } from "./options.ts";
import { Reconciler } from "./reconcile.ts";
import { PipelineCreator } from "./spawn.ts";
import { PipelineTracker } from "./track.ts";
import { DEFAULT_GITLAB_TUNING, type GitlabTuning } from "./tuning.ts";
import { createWebhookHandler } from "./webhook.ts";

/** What `tack check` asks the CI's API with this configuration. */
export function checkGitlabConfiguration(config: GitlabConfig, deps: ProviderDeps) {
  return checkGitlab(createGitlabClient(config, deps, CHECK_HTTP_TUNING), config, () =>
    new GitlabPipelines(deps.db, deps.writer, deps.clock).recentProjects(5),
  );
}

/** `overrides` exist for tests and benchmarks; production uses the defaults. */
export function createGitlabProvider(
  config: GitlabConfig,
  deps: ProviderDeps,
  overrides: Partial<GitlabTuning> = {},
): Provider {
  const tuning: GitlabTuning = { ...DEFAULT_GITLAB_TUNING, ...overrides };
  const log = deps.log;
  // Aborted by stop(): ends timers, waits and in-flight API calls of background work.
  const lifetime = new AbortController();
  const client = createGitlabClient(config, { ...deps, signal: lifetime.signal }, tuning.http);
  const pipelines = new GitlabPipelines(deps.db, deps.writer, deps.clock);
  const tracker = new PipelineTracker({ ...deps, pipelines });
  const creator = new PipelineCreator({
    ...deps,
    client,
    pipelines,
    tracker,
    tuning,
    defaultProject: config.project,
    signal: lifetime.signal,
  });
  const reconciler = new Reconciler({
    ...deps,
    client,
    pipelines,
    creator,
    tracker,
    tuning,
    signal: lifetime.signal,
  });
  reconciler.start();

  return {
    name: PROVIDER,
    checkOptions: (options) => checkGitlabOptions(options, config.project),
    spawn: (workflow, variables) => creator.spawn(workflow, variables),
    logs: (workflow, signal) =>
      openPipelineLog(
        {
          ...deps,
          client,
          pipelines,
          tracker,
          followIntervalMs: tuning.logFollowIntervalMs,
          reserveRequests: tuning.reserveRequests,
        },
        workflow,
        signal,
      ),
    cancel: (workflow) =>
      cancelPipeline({ client, pipelines, creator, tracker, clock: deps.clock, tuning }, workflow),
    async resume(workflows) {
      // In the background: startup must not wait on GitLab. Every open pipeline is polled once,
      // whatever its last webhook, since deliveries sent while tack was down may be lost.
      log.info("gitlab: reconciling pipelines left unfinished", { count: workflows.length });
      void reconciler.pass(true);
    },
    async stop() {
      lifetime.abort();
      await reconciler.stopped();
    },
    webhook: createWebhookHandler({
      db: deps.db,
      secret: config.webhookSecret,
      pipelines,
      tracker,
      deliveries: deps.deliveries,
      client,
      confirmTimeoutMs: tuning.confirmTimeoutMs,
      log,
    }),
    prune: (tx, cutoffMs, limit) => pipelines.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
