/**
 * GitHub Actions provider (issue 5, docs/github.md). A Tangled workflow with
 * `tack: { github: { repo, workflow } }` dispatches a runner workflow in a GitHub repository the
 * operator owns; the run's webhooks (and, as a backstop, polling) report its state back.
 *
 * Files: options.ts and inputs.ts (what the YAML asks, what the runner receives), client.ts
 * (REST), dispatch.ts (spawn and run discovery), runs.ts (github_runs), states.ts (status
 * table), progress.ts (applying observations), webhook.ts and verify.ts, reconcile.ts, logs.ts
 * and job-log.ts, cancel.ts, check.ts.
 */
import type { GithubConfig } from "../../config.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { cancelRun } from "./cancel.ts";
import { checkGithub } from "./check.ts";
import { GithubClient } from "./client.ts";
import { RunDispatcher } from "./dispatch.ts";
import { openRunLog } from "./logs.ts";
import { checkGithubOptions } from "./options.ts";
import { RunProgress } from "./progress.ts";
import { Reconciler } from "./reconcile.ts";
import { GithubRuns } from "./runs.ts";
import { DEFAULT_TIMING, type GithubTiming } from "./timing.ts";
import { createWebhookHandler } from "./webhook.ts";

export interface GithubProviderOptions {
  /** TACK_DEV: clone URLs handed to the runner use http:// instead of https://. */
  dev?: boolean;
  /** Poll and retry timing; tests shorten it. */
  timing?: Partial<GithubTiming>;
}

export function createGithubProvider(
  config: GithubConfig,
  deps: ProviderDeps,
  options: GithubProviderOptions = {},
): Provider {
  const timing: GithubTiming = { ...DEFAULT_TIMING, ...options.timing };
  const log = deps.log;
  // Aborted by stop(): ends timers, discovery waits and in-flight API calls of background work.
  const lifetime = new AbortController();
  const client = new GithubClient(config, deps.fetch, timing.retry, Date.now, lifetime.signal);
  const runs = new GithubRuns(deps.db, deps.writer, deps.clock);
  const progress = new RunProgress({ ...deps, runs });
  const dispatcher = new RunDispatcher({
    client,
    runs,
    progress,
    log,
    dev: options.dev ?? false,
    timing,
    signal: lifetime.signal,
  });
  const reconciler = new Reconciler({
    client,
    runs,
    dispatcher,
    progress,
    workflows: deps.workflows,
    log,
    clock: deps.clock,
    timing,
    signal: lifetime.signal,
  });
  reconciler.start();

  return {
    name: "github",
    checkOptions: checkGithubOptions,
    spawn: (workflow) => dispatcher.spawn(workflow),
    logs: (workflow, signal) =>
      openRunLog(
        {
          client,
          runs,
          workflows: deps.workflows,
          progress,
          log,
          followIntervalMs: timing.logFollowIntervalMs,
        },
        workflow,
        signal,
      ),
    cancel: (workflow) =>
      cancelRun({ client, runs, dispatcher, progress, workflows: deps.workflows, log }, workflow),
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
    webhook: createWebhookHandler({ secret: config.webhookSecret, runs, progress, log }),
    check: () => checkGithub(client, config.apiUrl),
    prune: (tx, cutoffMs, limit) => runs.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
