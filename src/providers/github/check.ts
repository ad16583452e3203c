/**
 * `tack check` for GitHub: does the token work, and can it do what tack needs? A classic token
 * shows its scopes (`x-oauth-scopes`): dispatching and cancelling need `repo` (GitHub's docs for
 * workflow_dispatch), `workflow` is only needed to change workflow files and is reported, not
 * required. Fine-grained and app tokens show no scopes; their permissions (Actions read and
 * write, Contents read, on the runner repository) can only be proven by a dispatch. A token
 * with an expiry date shows it (GitHub sends it with every answer); one that lapses within a
 * week fails the check. Nothing here prints the token.
 */
import type { ProviderCheck } from "../provider.ts";
import { daysUntil, lapsingSoon } from "../token-expiry.ts";
import type { GithubClient } from "./client.ts";

export async function checkGithub(
  client: GithubClient,
  apiUrl: string,
  now: () => number = Date.now,
): Promise<ProviderCheck[]> {
  let info: Awaited<ReturnType<GithubClient["tokenInfo"]>>;
  try {
    info = await client.tokenInfo();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [
      {
        name: "github token",
        ok: false,
        detail: `${apiUrl} did not accept TACK_GITHUB_TOKEN: ${reason}`,
      },
    ];
  }
  const checks: ProviderCheck[] = [
    {
      name: "github token",
      ok: true,
      detail: `accepted by ${apiUrl}; ${info.remaining} of ${info.limit} requests left this hour`,
    },
  ];
  if (info.expiresAt !== undefined) checks.push(expiryCheck(info.expiresAt, now()));
  if (info.scopes === undefined) {
    checks.push({
      name: "github token scopes",
      ok: true,
      detail:
        "fine-grained or app token (no scopes to show): it needs Actions read and write and Contents read on each runner repository",
    });
    return checks;
  }
  const has = (scope: string) => info.scopes?.includes(scope) ?? false;
  const shown = info.scopes.length > 0 ? info.scopes.join(", ") : "none";
  checks.push({
    name: "github token scopes",
    ok: has("repo"),
    detail: has("repo")
      ? `classic token with scopes: ${shown}${has("workflow") ? "" : " (no `workflow`: fine, tack does not edit workflow files)"}`
      : `classic token with scopes: ${shown}; it needs \`repo\` to dispatch and cancel runs`,
  });
  return checks;
}

function expiryCheck(expiresAt: number, now: number): ProviderCheck {
  const date = new Date(expiresAt).toISOString().replace(".000Z", "Z");
  const days = daysUntil(expiresAt, now);
  const ok = !lapsingSoon(expiresAt, now);
  return {
    name: "github token expiry",
    ok,
    detail: ok
      ? `expires ${date} (in ${days} days)`
      : `expires ${date} (in ${Math.max(days, 0)} days): renew TACK_GITHUB_TOKEN before then, or every GitHub workflow fails`,
  };
}
