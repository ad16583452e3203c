/**
 * The GitHub provider's environment: setting TACK_GITHUB_TOKEN enables it, and then the
 * webhook secret is needed.
 */
import { Type } from "@sinclair/typebox";
import { requiredVariable } from "../provider.ts";

/** The provider's name: in `tack:` blocks, webhook paths and its tables' rows. */
export const PROVIDER = "github";

export interface GithubConfig {
  token: string;
  webhookSecret: string;
  apiUrl: string;
}

export const GITHUB_ENV = {
  TACK_GITHUB_TOKEN: Type.Optional(
    Type.String({ description: "a GitHub token (enables the github provider)", secret: true }),
  ),
  TACK_GITHUB_WEBHOOK_SECRET: Type.Optional(
    Type.String({ description: "the secret of the GitHub webhook", secret: true }),
  ),
  TACK_GITHUB_API_URL: Type.String({
    default: "https://api.github.com",
    pattern: "^https?://[^\\s]+$",
    description: "the GitHub REST API base URL (GitHub Enterprise: https://<host>/api/v3)",
  }),
};

/** The config, or undefined without a token; throws naming a variable the token needs. */
export function configureGithub(env: Record<string, string | undefined>): GithubConfig | undefined {
  const token = env.TACK_GITHUB_TOKEN;
  if (token === undefined) return undefined;
  return {
    token,
    webhookSecret: requiredVariable(env, "TACK_GITHUB_WEBHOOK_SECRET", "TACK_GITHUB_TOKEN"),
    apiUrl: (env.TACK_GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, ""),
  };
}
