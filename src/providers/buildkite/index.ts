/**
 * The Buildkite provider: one Buildkite build per workflow, state from signed webhooks
 * confirmed against the API, reconciliation polls for lost webhooks, job logs on /logs, cancel.
 * Operator guide: docs/buildkite.md.
 *
 * Files, one role each (the same names in every provider folder): index.ts (this descriptor:
 * what configuration, the CLI and `tack check` read, loaded at start), provider.ts (the
 * provider itself, loaded only when it is configured), config.ts (TACK_BUILDKITE_*), options.ts
 * (the tack.buildkite block), request.ts (what the build receives), spawn.ts (create it, once),
 * client.ts (REST), schemas.ts (wire shapes), verify.ts (webhook auth), webhook.ts (the webhook
 * contract), states.ts (Buildkite state → Tangled status), track.ts (apply a sighting),
 * table.ts and builds.ts (the buildkite_builds table and its owner), reconcile.ts (polls),
 * logs.ts and log-text.ts (/logs), cancel.ts, check.ts (`tack check`), tuning.ts.
 */
import type { ProviderDescriptor } from "../provider.ts";
import { BUILDKITE_ENV, type BuildkiteConfig, configureBuildkite, PROVIDER } from "./config.ts";

export const buildkite = {
  name: PROVIDER,
  title: "Buildkite",
  docs: "docs/buildkite.md",
  env: BUILDKITE_ENV,
  enabledBy: "TACK_BUILDKITE_TOKEN",
  configure: configureBuildkite,
  secrets: (config) => [config.token, config.webhookSecret],
  create: async (config, deps) =>
    (await import("./provider.ts")).createBuildkiteProvider(config, deps),
  check: async (config, deps) =>
    (await import("./provider.ts")).checkBuildkiteConfiguration(config, deps),
} satisfies ProviderDescriptor<"buildkite", BuildkiteConfig>;
