/**
 * `tack check` for GitLab: does the token work, does it carry the `api` scope (creating and
 * cancelling pipelines, reading jobs and traces need it; `read_api` is not enough), and can it
 * run pipelines in the runner projects: TACK_GITLAB_PROJECT and those of recent pipelines. A
 * project shows the token's role (Developer or more runs pipelines) and, where GitLab shows it,
 * whether pipeline variables are allowed (tack itself sends inputs; only tack.gitlab.variables
 * need them). A token that lapses within a week fails the check. Nothing here prints the token.
 */
import { ApiError } from "../http-client.ts";
import type { ProviderCheck } from "../provider.ts";
import { daysUntil, lapsingSoon } from "../token-expiry.ts";
import type { GitlabClient } from "./client.ts";
import type { ApiProject } from "./schemas.ts";

/** GitLab's access levels: Developer (30) is the least that runs and cancels pipelines. */
const DEVELOPER = 30;
const ROLES: Record<number, string> = {
  10: "Guest",
  15: "Planner",
  20: "Reporter",
  30: "Developer",
  40: "Maintainer",
  50: "Owner",
};
/** GitLab's expiry date (YYYY-MM-DD) as Unix ms: the token stops working that day, UTC. */
function expiryOf(date: string): number | undefined {
  const at = Date.parse(`${date}T00:00:00Z`);
  return Number.isNaN(at) ? undefined : at;
}

/** Runner projects checked at most, besides TACK_GITLAB_PROJECT. */
const RECENT_PROJECTS = 5;

export async function checkGitlab(
  client: GitlabClient,
  config: { url: string; project?: string },
  recentProjects: () => string[],
  now: () => number = Date.now,
): Promise<ProviderCheck[]> {
  const rows: ProviderCheck[] = [];
  let token: Awaited<ReturnType<GitlabClient["tokenSelf"]>>;
  try {
    token = await client.tokenSelf();
    if (token === undefined) await client.user();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [
      {
        name: "gitlab token",
        ok: false,
        detail: `${config.url} did not accept TACK_GITLAB_TOKEN: ${reason}`,
      },
    ];
  }
  if (token === undefined) {
    rows.push({
      name: "gitlab token",
      ok: true,
      detail: `accepted by ${config.url}; this GitLab does not show a token's scopes (before 15.5): it needs the api scope`,
    });
  } else {
    const usable = token.active && token.revoked !== true;
    const expires = token.expires_at ? `, expires ${token.expires_at}` : "";
    const expiresAt = token.expires_at ? expiryOf(token.expires_at) : undefined;
    const daysLeft = expiresAt === undefined ? undefined : daysUntil(expiresAt, now());
    const lapsing = expiresAt !== undefined && lapsingSoon(expiresAt, now());
    rows.push({
      name: "gitlab token",
      ok: usable && !lapsing,
      detail: !usable
        ? `${config.url} says the token "${token.name}" is ${token.revoked ? "revoked" : "inactive"}: create a new one with the api scope`
        : lapsing
          ? `accepted by ${config.url} ("${token.name}"${expires}, in ${Math.max(daysLeft ?? 0, 0)} days): renew TACK_GITLAB_TOKEN before then, or every GitLab workflow fails`
          : `accepted by ${config.url} ("${token.name}"${expires})`,
    });
    const shown = token.scopes.length > 0 ? token.scopes.join(", ") : "none";
    const hasApi = token.scopes.includes("api");
    rows.push({
      name: "gitlab token scopes",
      ok: hasApi,
      detail: hasApi
        ? `scopes: ${shown}`
        : `scopes: ${shown}; it needs \`api\` to create and cancel pipelines and read job traces`,
    });
  }

  const projects = [
    ...new Set([...(config.project ? [config.project] : []), ...recent(recentProjects)]),
  ].slice(0, RECENT_PROJECTS + 1);
  if (projects.length === 0) {
    rows.push({
      name: "gitlab projects",
      ok: true,
      detail: "no runner project to check yet (set TACK_GITLAB_PROJECT to have one checked)",
    });
  }
  for (const project of projects) rows.push(await checkProject(client, project));
  return rows;
}

/**
 * The runner projects of recent pipelines; none when the database cannot tell (`tack check`
 * never migrates it, so a database from before this provider has no table yet).
 */
function recent(recentProjects: () => string[]): string[] {
  try {
    return recentProjects();
  } catch {
    return [];
  }
}

async function checkProject(client: GitlabClient, project: string): Promise<ProviderCheck> {
  const name = `gitlab project ${project}`;
  let found: ApiProject;
  try {
    found = await client.project(project, { fresh: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint =
      error instanceof ApiError && error.status === 404
        ? "the project does not exist or the token cannot see it: "
        : "";
    return { name, ok: false, detail: `${hint}${reason}` };
  }
  const level = Math.max(
    found.permissions?.project_access?.access_level ?? 0,
    found.permissions?.group_access?.access_level ?? 0,
  );
  const role = ROLES[level] ?? (level > 0 ? `access level ${level}` : "no membership shown");
  const branch = found.default_branch
    ? `default branch ${found.default_branch}`
    : "no default branch (empty repository?)";
  const variables = found.ci_pipeline_variables_minimum_override_role;
  const variablesNote =
    variables === "no_one_allowed"
      ? "; pipeline variables are off (fine: tack sends inputs, only tack.gitlab.variables would be refused)"
      : variables
        ? `; pipeline variables allowed from ${variables} up`
        : "";
  // No permissions shown (e.g. an administrator's token): GitLab alone can tell, at create.
  const ok = found.permissions == null || level === 0 ? true : level >= DEVELOPER;
  return {
    name,
    ok: ok && Boolean(found.default_branch),
    detail: ok
      ? `${found.path_with_namespace} (id ${found.id}): token role ${role}, ${branch}${variablesNote}`
      : `${found.path_with_namespace}: the token's role is ${role}; creating pipelines needs Developer or more`,
  };
}
