/**
 * `tack check` for sourcehut: does each instance answer and accept the token, and does the
 * token carry the grants tack needs: builds.sr.ht/JOBS:RW (submit, poll, cancel) and
 * builds.sr.ht/LOGS:RO (logs; without it a job runs but its logs cannot be read). Each grant
 * is probed with a request that changes nothing (client.ts `grants`). LOGS:RO shows only on an
 * existing job, so an account without jobs gets "not verifiable yet" rather than a guess.
 * SECRETS:RO is reported, not required: only workflows with `secrets: true` need it.
 * Nothing here prints the token.
 */
import type { ProviderCheck } from "../provider.ts";
import { type SourcehutClient, TOKEN_HINT } from "./client.ts";

export async function checkSourcehut(clients: SourcehutClient[]): Promise<ProviderCheck[]> {
  const rows: ProviderCheck[] = [];
  for (const client of clients) rows.push(...(await checkInstance(client)));
  return rows;
}

async function checkInstance(client: SourcehutClient): Promise<ProviderCheck[]> {
  const where = client.instance;
  let version: string;
  let grants: Awaited<ReturnType<SourcehutClient["grants"]>>;
  try {
    const answer = await client.version();
    version = `${answer.major}.${answer.minor}.${answer.patch}`;
    grants = await client.grants();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [
      {
        name: "sourcehut token",
        ok: false,
        detail: `${where} did not accept TACK_SOURCEHUT_TOKEN: ${reason}`,
      },
    ];
  }
  const rows: ProviderCheck[] = [
    { name: "sourcehut token", ok: true, detail: `accepted by ${where} (API ${version})` },
  ];
  const jobs = grants["JOBS:RW"] === true && grants["JOBS:RO"] === true;
  rows.push({
    name: "sourcehut token scopes",
    ok: jobs,
    detail: jobs
      ? "builds.sr.ht/JOBS:RW: submit, poll and cancel jobs"
      : `no builds.sr.ht/JOBS:RW: tack cannot submit or cancel jobs; ${TOKEN_HINT}`,
  });
  const logs = grants["LOGS:RO"];
  rows.push({
    name: "sourcehut log access",
    ok: logs !== false,
    detail:
      logs === true
        ? "builds.sr.ht/LOGS:RO: job logs readable"
        : logs === false
          ? `no builds.sr.ht/LOGS:RO: jobs would run but their logs could not be read; ${TOKEN_HINT}`
          : "builds.sr.ht/LOGS:RO not verifiable yet (the account has no job to read); make sure the token has it",
  });
  rows.push({
    name: "sourcehut secrets",
    ok: true,
    detail: grants["SECRETS:RO"]
      ? "builds.sr.ht/SECRETS:RO: workflows may set secrets: true"
      : "no builds.sr.ht/SECRETS:RO: fine unless a workflow sets secrets: true (sourcehut then refuses its job)",
  });
  return rows;
}
