/**
 * The Buildkite provider's environment, the same variables as the Go tack: setting
 * TACK_BUILDKITE_TOKEN enables it, and then the organization and the webhook secret are needed.
 */
import { Type } from "@sinclair/typebox";
import { requiredVariable } from "../provider.ts";

/** The provider's name: in `tack:` blocks, webhook paths and its tables' rows. */
export const PROVIDER = "buildkite";

export interface BuildkiteConfig {
  token: string;
  org: string;
  webhookSecret: string;
  webhookMode: "token" | "signature";
  apiUrl: string;
}

export const BUILDKITE_ENV = {
  TACK_BUILDKITE_TOKEN: Type.Optional(
    Type.String({
      description: "a Buildkite API access token (enables the buildkite provider)",
      secret: true,
    }),
  ),
  TACK_BUILDKITE_ORG: Type.Optional(
    Type.String({
      pattern: "^[a-z0-9][a-z0-9-]*$",
      description: "the Buildkite organization slug, e.g. my-org",
    }),
  ),
  TACK_BUILDKITE_WEBHOOK_SECRET: Type.Optional(
    Type.String({
      description: "the token or signing secret of the Buildkite webhook",
      secret: true,
    }),
  ),
  TACK_BUILDKITE_WEBHOOK_MODE: Type.Union([Type.Literal("token"), Type.Literal("signature")], {
    default: "token",
    description: "token or signature (how Buildkite webhooks are authenticated)",
  }),
  TACK_BUILDKITE_API_URL: Type.String({
    default: "https://api.buildkite.com",
    pattern: "^https?://[^\\s]+$",
    description: "the Buildkite REST API base URL",
  }),
};

/** The config, or undefined without a token; throws naming a variable the token needs. */
export function configureBuildkite(
  env: Record<string, string | undefined>,
): BuildkiteConfig | undefined {
  const token = env.TACK_BUILDKITE_TOKEN;
  if (token === undefined) return undefined;
  return {
    token,
    org: requiredVariable(env, "TACK_BUILDKITE_ORG", "TACK_BUILDKITE_TOKEN"),
    webhookSecret: requiredVariable(env, "TACK_BUILDKITE_WEBHOOK_SECRET", "TACK_BUILDKITE_TOKEN"),
    webhookMode: env.TACK_BUILDKITE_WEBHOOK_MODE === "signature" ? "signature" : "token",
    apiUrl: (env.TACK_BUILDKITE_API_URL ?? "https://api.buildkite.com").replace(/\/+$/, ""),
  };
}
