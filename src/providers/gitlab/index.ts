/**
 * GitLab CI provider (docs/gitlab.md). A Tangled workflow with `tack: { gitlab: { project } }`
 * creates a pipeline in a GitLab project the operator owns (the runner project), whose
 * .gitlab-ci.yml clones the Tangled repository at the commit tack passes as inputs; the
 * pipeline's webhooks (and, as a backstop, polling) report its state back.
 *
 * Files, one role each (the same names in every provider folder): config.ts (TACK_GITLAB_*),
 * options.ts (the tack.gitlab block), request.ts (the pipeline's inputs), spawn.ts (create it,
 * once), client.ts (REST), schemas.ts (wire shapes), verify.ts and webhook.ts, states.ts
 * (status table), track.ts (applying observations), table.ts and builds.ts (the
 * gitlab_pipelines table and its owner), reconcile.ts, logs.ts and log-text.ts (job traces),
 * cancel.ts, check.ts, tuning.ts.
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps, ProviderDescriptor } from "../provider.ts";
import { GitlabPipelines } from "./builds.ts";
import { cancelPipeline } from "./cancel.ts";
import { checkGitlab } from "./check.ts";
import { createGitlabClient } from "./client.ts";
import { configureGitlab, GITLAB_ENV, type GitlabConfig } from "./config.ts";
import { openPipelineLog } from "./logs.ts";
import { checkGitlabOptions } from "./options.ts";
import { Reconciler } from "./reconcile.ts";
import { PipelineCreator } from "./spawn.ts";
import { PipelineTracker, PROVIDER } from "./track.ts";
import { DEFAULT_GITLAB_TUNING, type GitlabTuning } from "./tuning.ts";
import { createWebhookHandler } from "./webhook.ts";

export const gitlab = {
  name: PROVIDER,
  title: "GitLab CI",
  docs: "docs/gitlab.md",
  env: GITLAB_ENV,
  enabledBy: "TACK_GITLAB_TOKEN",
  configure: configureGitlab,
  secrets: (config) => [config.token, config.webhookSecret],
  create: (config, deps) => createGitlabProvider(config, deps),
  check: (config, deps) =>
    checkGitlab(createGitlabClient(config, deps, CHECK_HTTP_TUNING), config, () =>
      new GitlabPipelines(deps.db, deps.writer, deps.clock).recentProjects(5),
    ),
} satisfies ProviderDescriptor<"gitlab", GitlabConfig>;

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
