/**
 * GitLab CI provider (docs/gitlab.md). A Tangled workflow with `tack: { gitlab: { project } }`
 * creates a pipeline in a GitLab project the operator owns (the runner project), whose
 * .gitlab-ci.yml clones the Tangled repository at the commit tack passes as inputs; the
 * pipeline's webhooks (and, as a backstop, polling) report its state back.
 *
 * Files, one role each (the same names in every provider folder): index.ts (this descriptor:
 * what configuration, the CLI and `tack check` read, loaded at start), provider.ts (the
 * provider itself, loaded only when it is configured), config.ts (TACK_GITLAB_*), options.ts
 * (the tack.gitlab block), request.ts (the pipeline's inputs), spawn.ts (create it, once),
 * client.ts (REST), schemas.ts (wire shapes), verify.ts and webhook.ts, states.ts (status
 * table), track.ts (applying observations), table.ts and builds.ts (the gitlab_pipelines table
 * and its owner), reconcile.ts, logs.ts and log-text.ts (job traces), cancel.ts, check.ts,
 * tuning.ts.
 */
import type { ProviderDescriptor } from "../provider.ts";
import { configureGitlab, GITLAB_ENV, type GitlabConfig, PROVIDER } from "./config.ts";

export const gitlab = {
  name: PROVIDER,
  title: "GitLab CI",
  docs: "docs/gitlab.md",
  env: GITLAB_ENV,
  enabledBy: "TACK_GITLAB_TOKEN",
  configure: configureGitlab,
  secrets: (config) => [config.token, config.webhookSecret],
  create: async (config, deps) =>
    (await import("./provider.ts")).createGitlabProvider(config, deps),
  check: async (config, deps) =>
    (await import("./provider.ts")).checkGitlabConfiguration(config, deps),
} satisfies ProviderDescriptor<"gitlab", GitlabConfig>;
