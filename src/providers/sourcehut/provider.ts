/**
 * The Sourcehut provider itself, loaded only when it is configured (index.ts holds what
 * configuration and `tack check` read at start).
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps } from "../provider.ts";
import { SourcehutJobs } from "./builds.ts";
import { cancelJob } from "./cancel.ts";
import { checkSourcehut } from "./check.ts";
import { createSourcehutClient, type SourcehutClient } from "./client.ts";
import { PROVIDER, type SourcehutConfig } from "./config.ts";
import { openJobLog } from "./logs.ts";
import { checkSourcehutOptions } from "./options.ts";
import { Poller } from "./reconcile.ts";
import { JobSubmitter } from "./spawn.ts";
import { JobTracker } from "./track.ts";
import { DEFAULT_SOURCEHUT_TUNING, type SourcehutTuning } from "./tuning.ts";
import { createNudgeHandler } from "./webhook.ts";

/** What `tack check` asks the CI's API with this configuration. */
export function checkSourcehutConfiguration(config: SourcehutConfig, deps: ProviderDeps) {
  return checkSourcehut(
    config.instances.map((instance) =>
      createSourcehutClient({ token: config.token, instance }, deps, CHECK_HTTP_TUNING),
    ),
  );
}

/** `overrides` exist for tests; production uses the defaults. */
export function createSourcehutProvider(
  config: SourcehutConfig,
  deps: ProviderDeps,
  overrides: Partial<SourcehutTuning> = {},
): Provider {
  const tuning: SourcehutTuning = { ...DEFAULT_SOURCEHUT_TUNING, ...overrides };
  const log = deps.log;
  // Aborted by stop(): ends the poller's waits and in-flight API calls of background work.
  const lifetime = new AbortController();
  const clients = new Map<string, SourcehutClient>(
    config.instances.map((instance) => [
      instance,
      createSourcehutClient(
        { token: config.token, instance },
        { ...deps, signal: lifetime.signal },
        tuning.http,
      ),
    ]),
  );
  const jobs = new SourcehutJobs(deps.db, deps.writer, deps.clock);
  const tracker = new JobTracker({ ...deps, jobs });
  let poller: Poller | undefined;
  const submitter = new JobSubmitter({
    ...deps,
    clients,
    instance: config.instance,
    instances: config.instances,
    jobs,
    tuning,
    signal: lifetime.signal,
    wake: () => poller?.wake(),
  });
  poller = new Poller({
    ...deps,
    clients,
    jobs,
    submitter,
    tracker,
    tuning,
    signal: lifetime.signal,
  });
  const running = poller;
  running.start();

  return {
    name: PROVIDER,
    checkOptions: (options) => checkSourcehutOptions(options, config.instances),
    spawn: (workflow, variables) => submitter.spawn(workflow, variables),
    logs: (workflow, signal) =>
      openJobLog({ ...deps, clients, jobs, tracker, poller: running, tuning }, workflow, signal),
    cancel: (workflow) =>
      cancelJob({ clients, jobs, submitter, poller: running, clock: deps.clock, tuning }, workflow),
    async resume(workflows) {
      // In the background: startup must not wait on sourcehut.
      log.info("sourcehut: polling jobs left unfinished", { count: workflows.length });
      void running.resume(workflows);
    },
    async stop() {
      lifetime.abort();
      await running.stopped();
    },
    webhook: createNudgeHandler({
      jobs,
      poller: running,
      instances: config.instances,
      clock: deps.clock,
      log,
      nudgeGapMs: tuning.nudgeGapMs,
    }),
    prune: (tx, cutoffMs, limit) => jobs.pruneFinishedBefore(tx, cutoffMs, limit),
  } satisfies Provider;
}
