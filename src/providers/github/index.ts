/**
 * GitHub Actions provider (docs/github.md). A Tangled workflow with
 * `tack: { github: { repo, workflow } }` dispatches a runner workflow in a GitHub repository the
 * operator owns; the run's webhooks (and, as a backstop, polling) report its state back.
 *
 * Files, one role each (the same names in every provider folder): index.ts (this descriptor:
 * what configuration, the CLI and `tack check` read, loaded at start), provider.ts (the
 * provider itself, loaded only when it is configured), config.ts (TACK_GITHUB_*), options.ts
 * (the tack.github block), request.ts (the dispatch inputs), spawn.ts (dispatch, once, and run
 * discovery), client.ts (REST), schemas.ts (wire shapes), verify.ts and webhook.ts, states.ts
 * (status table), track.ts (applying observations), table.ts and builds.ts (the github_runs
 * table and its owner), reconcile.ts, logs.ts and log-text.ts, cancel.ts, check.ts, tuning.ts.
 */
import type { ProviderDescriptor } from "../provider.ts";
import { configureGithub, GITHUB_ENV, type GithubConfig, PROVIDER } from "./config.ts";

export const github = {
  name: PROVIDER,
  title: "GitHub Actions",
  docs: "docs/github.md",
  env: GITHUB_ENV,
  enabledBy: "TACK_GITHUB_TOKEN",
  configure: configureGithub,
  secrets: (config) => [config.token, config.webhookSecret],
  create: async (config, deps) =>
    (await import("./provider.ts")).createGithubProvider(config, deps),
  check: async (config, deps) =>
    (await import("./provider.ts")).checkGithubConfiguration(config, deps),
} satisfies ProviderDescriptor<"github", GithubConfig>;
