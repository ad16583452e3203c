/**
 * The sourcehut provider's environment, the same variables as the Go tack: setting
 * TACK_SOURCEHUT_TOKEN enables it; TACK_SOURCEHUT_INSTANCE names the builds.sr.ht deployment.
 *
 * A workflow may name another deployment (`tack.sourcehut.instance`), but tack sends its token
 * only to the configured instance and to those the operator lists in
 * TACK_SOURCEHUT_INSTANCES: a workflow's author must not be able to point the token at a host
 * of their choosing.
 */
import { Type } from "@sinclair/typebox";

/** The provider's name: in `tack:` blocks, webhook paths and its tables' rows. */
export const PROVIDER = "sourcehut";

export interface SourcehutConfig {
  token: string;
  /** The default builds.sr.ht base URL, without a trailing slash. */
  instance: string;
  /** Every base URL a workflow may name (the default first), without trailing slashes. */
  instances: string[];
}

export const DEFAULT_INSTANCE = "https://builds.sr.ht";

const URL_PATTERN = "^https?://[^\\s/]+(?:/[^\\s]*)?$";

export const SOURCEHUT_ENV = {
  TACK_SOURCEHUT_TOKEN: Type.Optional(
    Type.String({
      description: "a builds.sr.ht personal access token (enables the sourcehut provider)",
      secret: true,
    }),
  ),
  TACK_SOURCEHUT_INSTANCE: Type.String({
    default: DEFAULT_INSTANCE,
    pattern: URL_PATTERN,
    description: "the builds.sr.ht base URL",
  }),
  TACK_SOURCEHUT_INSTANCES: Type.Optional(
    Type.String({
      description:
        "other builds.sr.ht base URLs workflows may name with tack.sourcehut.instance (comma-separated; the token is sent to them too)",
    }),
  ),
};

/** The config, or undefined without a token; throws naming a malformed variable. */
export function configureSourcehut(
  env: Record<string, string | undefined>,
): SourcehutConfig | undefined {
  const token = env.TACK_SOURCEHUT_TOKEN;
  if (token === undefined) return undefined;
  const instance = baseUrl(env.TACK_SOURCEHUT_INSTANCE ?? DEFAULT_INSTANCE);
  const others = (env.TACK_SOURCEHUT_INSTANCES ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const other of others) {
    if (!new RegExp(URL_PATTERN).test(other)) {
      throw new Error(
        `TACK_SOURCEHUT_INSTANCES: ${JSON.stringify(other)} is not an http(s) URL (comma-separated base URLs, e.g. https://builds.example.org)`,
      );
    }
  }
  return { token, instance, instances: [...new Set([instance, ...others.map(baseUrl)])] };
}

/** "https://builds.sr.ht/" → "https://builds.sr.ht": one spelling per instance. */
export function baseUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}
