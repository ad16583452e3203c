/**
 * sourcehut provider (docs/sourcehut.md), a drop-in for the Go tack's: a Tangled workflow with
 * `tack: { sourcehut: { manifest, … } }` becomes one builds.sr.ht job, submitted with tack's
 * `TACK_*` variables merged into the manifest's environment and followed by polling.
 *
 * Files, one role each (the same names in every provider folder): config.ts
 * (TACK_SOURCEHUT_*), options.ts (the tack.sourcehut block), request.ts (the submitted manifest,
 * note and tags), spawn.ts (submit, once, and finding a job again), client.ts (GraphQL and log
 * files), schemas.ts (wire shapes), verify.ts and webhook.ts (completion nudges), states.ts
 * (status table), track.ts (applying polls), table.ts and builds.ts (the sourcehut_jobs table
 * and its owner), reconcile.ts (the adaptive poller), logs.ts and log-text.ts, cancel.ts,
 * check.ts, tuning.ts.
 */
import { CHECK_HTTP_TUNING } from "../http-client.ts";
import type { Provider, ProviderDeps, ProviderDescriptor } from "../provider.ts";
import { SourcehutJobs } from "./builds.ts";
import { cancelJob } from "./cancel.ts";
import { checkSourcehut } from "./check.ts";
import { createSourcehutClient, type SourcehutClient } from "./client.ts";
import { configureSourcehut, SOURCEHUT_ENV, type SourcehutConfig } from "./config.ts";
import { openJobLog } from "./logs.ts";
import { checkSourcehutOptions } from "./options.ts";
import { Poller } from "./reconcile.ts";
import { JobSubmitter } from "./spawn.ts";
import { JobTracker, PROVIDER } from "./track.ts";
import { DEFAULT_SOURCEHUT_TUNING, type SourcehutTuning } from "./tuning.ts";
import { createNudgeHandler } from "./webhook.ts";

export const sourcehut = {
  name: PROVIDER,
  title: "sourcehut (builds.sr.ht)",
  docs: "docs/sourcehut.md",
  env: SOURCEHUT_ENV,
  enabledBy: "TACK_SOURCEHUT_TOKEN",
  configure: configureSourcehut,
  secrets: (config) => [config.token],
  create: (config, deps) => createSourcehutProvider(config, deps),
  check: (config, deps) =>
    checkSourcehut(
      config.instances.map((instance) =>
        createSourcehutClient({ token: config.token, instance }, deps, CHECK_HTTP_TUNING),
      ),
    ),
} satisfies ProviderDescriptor<"sourcehut", SourcehutConfig>;

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
