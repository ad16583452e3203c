/**
 * Cancelling a GitHub workflow through the API, and `tack check` for the token.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { tokenExpiry } from "../../../src/providers/github/client.ts";
import { CancelError, type Provider } from "../../../src/providers/provider.ts";
import { GITHUB_TOKEN, RUNNER_REPO } from "../../helpers/fake-github.ts";
import { deliverGithub } from "../../helpers/sign-github.ts";
import type { TestTack } from "../../helpers/tack.ts";
import { checkRows } from "../check-rows.ts";
import {
  dispatchGithub,
  FAST,
  githubProvider,
  githubTack,
  newWorkflowId,
  runPayload,
  serviceTarget,
  startFakeGithub,
  statusesOf,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function github(service: TestTack): Provider {
  const provider = service.tack.providers.get("github");
  if (!provider) throw new Error("github provider not configured");
  return provider;
}

function stored(service: TestTack, id: ReturnType<typeof newWorkflowId>) {
  const workflow = service.tack.workflows.get(id);
  if (!workflow) throw new Error("unknown workflow");
  return workflow;
}

describe("github cancel", () => {
  test("asks GitHub to cancel the run and publishes nothing; no later report undoes the core's cancelled", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);
    const run = fake.setRun(fake.lastRun().id, { status: "in_progress" });
    await deliverGithub(service.http, { event: "workflow_run", payload: runPayload(run) });

    await github(service).cancel(stored(service, id));
    const [call] = fake.callsTo("POST", /\/cancel$/);
    expect(call?.path).toBe(`/repos/${RUNNER_REPO}/actions/runs/${run.id}/cancel`);
    expect(call?.headers.get("authorization")).toBe(`Bearer ${GITHUB_TOKEN}`);
    // The provider claims nothing: the core publishes the one `cancelled`.
    expect(stored(service, id).status).toBe("running");
    await service.tack.workflows.transition(id, "cancelled", {
      error: "User canceled the workflow",
    });

    // The run still finished green before GitHub got to it: too late to matter.
    fake.setRun(run.id, { status: "completed", conclusion: "success" });
    const late = await deliverGithub(service.http, {
      event: "workflow_run",
      payload: runPayload(fake.lastRun()),
    });
    expect(late.status).toBe(200);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "cancelled",
    ]);
  });

  test("a run that already finished (409) resolves the cancel, and nothing is published", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);
    fake.setRun(fake.lastRun().id, { status: "completed", conclusion: "success" });

    await github(service).cancel(stored(service, id));
    expect(fake.callsTo("POST", /\/cancel$/)).toHaveLength(1);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual(["pending"]);
  });

  test("a workflow whose run was never found has nothing to stop: no call to GitHub", async () => {
    const fake = startFakeGithub();
    fake.dispatchMode = "no-content";
    fake.listLag = 1_000;
    const tack = githubProvider(fake);
    const id = newWorkflowId();
    await dispatchGithub(tack, id);
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    await tack.provider.cancel(workflow);
    expect(fake.callsTo("POST", /\/cancel$/)).toHaveLength(0);
    expect(tack.workflows.get(id)?.status).toBe("pending");
    const row = tack.database.sqlite
      .query("select state from github_runs where pipeline_rkey = ?")
      .get(id.pipelineRkey) as { state: string };
    expect(row.state).toBe("tack:lost");
  });

  test("a run GitHub lists only after a moment is found and cancelled", async () => {
    const fake = startFakeGithub();
    fake.dispatchMode = "no-content";
    // No discovery and no reconciler: only the cancel itself looks for the run. A list delay
    // of a minute (1.5 s on the fast clock) leaves a loaded machine time for three list calls.
    const tack = githubProvider(fake, {
      ...FAST,
      discoveryDelaysMs: [],
      listDelayMs: 60_000,
      reconcileIntervalMs: 3_600_000,
    });
    const id = newWorkflowId();
    fake.listLag = 3;
    await dispatchGithub(tack, id);
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    await tack.provider.cancel(workflow);
    const [call] = fake.callsTo("POST", /\/cancel$/);
    expect(call?.path).toBe(`/repos/${RUNNER_REPO}/actions/runs/${fake.lastRun().id}/cancel`);
  });

  test("a cancel GitHub refuses is a CancelError saying what to check, never the token", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);
    fake.failNext("POST", /\/cancel$/, 403, 1);
    const error = await github(service)
      .cancel(stored(service, id))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CancelError);
    expect(String(error)).toContain(`could not cancel GitHub run ${fake.lastRun().id}`);
    expect(String(error)).toContain("Actions read and write");
    expect(String(error)).not.toContain(GITHUB_TOKEN);
    expect(stored(service, id).status).toBe("pending");
  });
});

describe("github check", () => {
  test("a classic token: works, with its scopes, never printed", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const checks = await checkRows("github", service.config.providers.github);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["github token", true],
      ["github token scopes", true],
    ]);
    expect(checks[0]?.detail).toBe(`accepted by ${fake.url}; 4999 of 5000 requests left this hour`);
    expect(checks[1]?.detail).toBe("classic token with scopes: repo, workflow");
    expect(JSON.stringify(checks)).not.toContain(GITHUB_TOKEN);
    expect(fake.callsTo("GET", /^\/rate_limit$/)).toHaveLength(1);
  });

  test("a token's expiry date is shown; one that lapses within a week fails the check", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
    const day = 24 * 60 * 60_000;
    fake.tokenExpiration = `${stamp(Date.now() + 90 * day + 60_000)} UTC`;
    let checks = await checkRows("github", service.config.providers.github);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["github token", true],
      ["github token expiry", true],
      ["github token scopes", true],
    ]);
    expect(checks[1]?.detail).toMatch(
      /^expires \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \(in 90 days\)$/,
    );
    fake.tokenExpiration = `${stamp(Date.now() + 3 * day + 60_000)} UTC`;
    checks = await checkRows("github", service.config.providers.github);
    expect(checks[1]).toMatchObject({ name: "github token expiry", ok: false });
    expect(checks[1]?.detail).toContain("(in 3 days): renew TACK_GITHUB_TOKEN before then");
    expect(JSON.stringify(checks)).not.toContain(GITHUB_TOKEN);
  });

  test("GitHub's expiry header is read in both of its spellings", () => {
    expect(tokenExpiry("2026-12-31 23:59:59 UTC")).toBe(Date.parse("2026-12-31T23:59:59Z"));
    expect(tokenExpiry("2026-12-31 15:59:59 -0800")).toBe(Date.parse("2026-12-31T23:59:59Z"));
    expect(tokenExpiry("next tuesday")).toBeUndefined();
    expect(tokenExpiry(null)).toBeUndefined();
  });

  test("a classic token without repo fails the scope check", async () => {
    const fake = startFakeGithub();
    fake.scopes = "read:org, workflow";
    const service = await githubTack(fake);
    const checks = await checkRows("github", service.config.providers.github);
    expect(checks[1]).toMatchObject({ name: "github token scopes", ok: false });
    expect(checks[1]?.detail).toContain("it needs `repo`");
  });

  test("a fine-grained token shows no scopes and is told what it needs", async () => {
    const fake = startFakeGithub();
    fake.scopes = undefined;
    const service = await githubTack(fake);
    const checks = await checkRows("github", service.config.providers.github);
    expect(checks[1]?.ok).toBe(true);
    expect(checks[1]?.detail).toContain("Actions read and write and Contents read");
  });

  test("a rejected token fails the check without echoing it", async () => {
    const fake = startFakeGithub();
    fake.failNext("GET", /^\/rate_limit$/, 401);
    const service = await githubTack(fake);
    const checks = await checkRows("github", service.config.providers.github);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: "github token", ok: false });
    expect(checks[0]?.detail).toContain("refused it (HTTP 401: check TACK_GITHUB_TOKEN)");
    expect(JSON.stringify(checks)).not.toContain(GITHUB_TOKEN);
  });
});
