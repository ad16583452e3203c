/**
 * The GitLab provider's environment: setting TACK_GITLAB_TOKEN enables it, and then the webhook
 * secret is needed. TACK_GITLAB_URL names a self-managed instance (gitlab.com by default);
 * TACK_GITLAB_PROJECT is the runner project of workflows that name none, and the one
 * `tack check` inspects.
 */
import { Type } from "@sinclair/typebox";
import { requiredVariable } from "../provider.ts";

/** The provider's name: in `tack:` blocks, webhook paths and its tables' rows. */
export const PROVIDER = "gitlab";

export interface GitlabConfig {
  token: string;
  webhookSecret: string;
  /** The instance as people open it: "https://gitlab.com". */
  url: string;
  /** Its REST API: "https://gitlab.com/api/v4". */
  apiUrl: string;
  /** The default runner project (path or numeric id), when set. */
  project?: string;
}

/** A project's full path ("group/subgroup/name") or its numeric id. */
export const PROJECT_PATTERN =
  "^(?:[1-9][0-9]{0,18}|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+)$";

export const GITLAB_ENV = {
  TACK_GITLAB_TOKEN: Type.Optional(
    Type.String({
      description: "a GitLab access token with the api scope (enables the gitlab provider)",
      secret: true,
    }),
  ),
  TACK_GITLAB_URL: Type.String({
    default: "https://gitlab.com",
    pattern: "^https?://[^\\s]+$",
    description: "the GitLab instance, e.g. https://gitlab.example.com",
  }),
  TACK_GITLAB_WEBHOOK_SECRET: Type.Optional(
    Type.String({ description: "the secret token of the GitLab webhook", secret: true }),
  ),
  TACK_GITLAB_PROJECT: Type.Optional(
    Type.String({
      pattern: PROJECT_PATTERN,
      maxLength: 255,
      description: "the runner project (group/name or id) for workflows that name none",
    }),
  ),
};

/** The config, or undefined without a token; throws naming a variable the token needs. */
export function configureGitlab(env: Record<string, string | undefined>): GitlabConfig | undefined {
  const token = env.TACK_GITLAB_TOKEN;
  if (token === undefined) return undefined;
  // An operator may paste the API's URL instead of the instance's: both mean the same.
  const url = (env.TACK_GITLAB_URL ?? "https://gitlab.com")
    .replace(/\/+$/, "")
    .replace(/\/api\/v4$/, "");
  const config: GitlabConfig = {
    token,
    webhookSecret: requiredVariable(env, "TACK_GITLAB_WEBHOOK_SECRET", "TACK_GITLAB_TOKEN"),
    url,
    apiUrl: `${url}/api/v4`,
  };
  if (env.TACK_GITLAB_PROJECT !== undefined) config.project = env.TACK_GITLAB_PROJECT;
  return config;
}
