/**
 * `tack check` for sourcehut, through the catalog as the CLI runs it: the instance answers, the
 * token is accepted and carries JOBS:RW and LOGS:RO (each probed without changing anything),
 * and nothing printed holds the token.
 */
import { expect, test } from "bun:test";
import { NO_LOGS_TOKEN, READ_ONLY_TOKEN, SOURCEHUT_TOKEN } from "../../helpers/fake-sourcehut.ts";
import { checkRows } from "../check-rows.ts";
import { sourcehutConfig, startFakeSourcehut } from "./harness.ts";

test("a token with JOBS:RW and LOGS:RO passes; SECRETS:RO is reported, not required", async () => {
  const sourcehut = startFakeSourcehut();
  sourcehut.seedJob({ note: "by hand", tags: ["x"] });
  sourcehut.start(sourcehut.lastJob().id);
  expect(await checkRows("sourcehut", sourcehutConfig(sourcehut))).toEqual([
    { name: "sourcehut token", ok: true, detail: `accepted by ${sourcehut.url} (API 0.78.4)` },
    {
      name: "sourcehut token scopes",
      ok: true,
      detail: "builds.sr.ht/JOBS:RW: submit, poll and cancel jobs",
    },
    { name: "sourcehut log access", ok: true, detail: "builds.sr.ht/LOGS:RO: job logs readable" },
    {
      name: "sourcehut secrets",
      ok: true,
      detail:
        "no builds.sr.ht/SECRETS:RO: fine unless a workflow sets secrets: true (sourcehut then refuses its job)",
    },
  ]);
  // Probing changed nothing: the job still runs, no job was added.
  expect(sourcehut.jobs.size).toBe(1);
  expect(sourcehut.lastJob().status).toBe("RUNNING");
  expect(sourcehut.problems).toEqual([]);
});

test("missing grants are named with what to fix", async () => {
  const sourcehut = startFakeSourcehut();
  sourcehut.seedJob({ note: null, tags: [] });
  const blind = await checkRows("sourcehut", sourcehutConfig(sourcehut, NO_LOGS_TOKEN));
  expect(blind.find((row) => row.name === "sourcehut log access")).toEqual({
    name: "sourcehut log access",
    ok: false,
    detail:
      "no builds.sr.ht/LOGS:RO: jobs would run but their logs could not be read; TACK_SOURCEHUT_TOKEN needs builds.sr.ht/JOBS:RW and builds.sr.ht/LOGS:RO (a personal access token from meta.sr.ht)",
  });
  const readOnly = await checkRows("sourcehut", sourcehutConfig(sourcehut, READ_ONLY_TOKEN));
  expect(readOnly.find((row) => row.name === "sourcehut token scopes")?.ok).toBe(false);
  expect(readOnly.find((row) => row.name === "sourcehut token scopes")?.detail).toContain(
    "no builds.sr.ht/JOBS:RW",
  );
});

test("an account without jobs cannot show LOGS:RO: said so, not guessed", async () => {
  const sourcehut = startFakeSourcehut();
  const rows = await checkRows("sourcehut", sourcehutConfig(sourcehut));
  expect(rows.find((row) => row.name === "sourcehut log access")).toMatchObject({
    ok: true,
    detail: expect.stringContaining("not verifiable yet"),
  });
});

test("a refused token is one failing row that never repeats it", async () => {
  const sourcehut = startFakeSourcehut();
  const token = "srht-pat-expired0123456789abcdefABCDEF012345";
  const rows = await checkRows("sourcehut", sourcehutConfig(sourcehut, token));
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ name: "sourcehut token", ok: false });
  expect(rows[0]?.detail).toContain(`${sourcehut.url} did not accept TACK_SOURCEHUT_TOKEN`);
  expect(rows[0]?.detail).toContain("Invalid or expired OAuth 2.0 bearer token");
  expect(JSON.stringify(rows)).not.toContain(token);
  expect(JSON.stringify(rows)).not.toContain(SOURCEHUT_TOKEN);
});
