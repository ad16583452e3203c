/**
 * sourcehut provider (docs/sourcehut.md), a drop-in for the Go tack's: a Tangled workflow with
 * `tack: { sourcehut: { manifest, … } }` becomes one builds.sr.ht job, submitted with tack's
 * `TACK_*` variables merged into the manifest's environment and followed by polling.
 *
 * Files, one role each (the same names in every provider folder): index.ts (this descriptor:
 * what configuration, the CLI and `tack check` read, loaded at start), provider.ts (the
 * provider itself, loaded only when it is configured), config.ts (TACK_SOURCEHUT_*), options.ts
 * (the tack.sourcehut block), request.ts (the submitted manifest, note and tags), spawn.ts
 * (submit, once, and finding a job again), client.ts (GraphQL and log files), schemas.ts (wire
 * shapes), verify.ts and webhook.ts (completion nudges), states.ts (status table), track.ts
 * (applying polls), table.ts and builds.ts (the sourcehut_jobs table and its owner),
 * reconcile.ts (the adaptive poller), logs.ts and log-text.ts, cancel.ts, check.ts, tuning.ts.
 */
import type { ProviderDescriptor } from "../provider.ts";
import { configureSourcehut, PROVIDER, SOURCEHUT_ENV, type SourcehutConfig } from "./config.ts";

export const sourcehut = {
  name: PROVIDER,
  title: "sourcehut (builds.sr.ht)",
  docs: "docs/sourcehut.md",
  env: SOURCEHUT_ENV,
  enabledBy: "TACK_SOURCEHUT_TOKEN",
  configure: configureSourcehut,
  secrets: (config) => [config.token],
  create: async (config, deps) =>
    (await import("./provider.ts")).createSourcehutProvider(config, deps),
  check: async (config, deps) =>
    (await import("./provider.ts")).checkSourcehutConfiguration(config, deps),
} satisfies ProviderDescriptor<"sourcehut", SourcehutConfig>;
