/**
 * Cancelling a GitHub workflow through the API, and `tack check` for the token.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Provider } from "../../../src/providers/provider.ts";
import { GITHUB_TOKEN, RUNNER_REPO } from "../../helpers/fake-github.ts";
import { deliverGithub } from "../../helpers/sign-github.ts";
import type { TestTack } from "../../helpers/tack.ts";
import {
  dispatchGithub,
  githubProvider,
  githubTack,
  newWorkflowId,
  runPayload,
  serviceTarget,
  startFakeGithub,
  statusesOf,
  until,
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
  test("asks GitHub to cancel the run; the cancelled status arrives by webhook", async () => {
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
    // GitHub cancels asynchronously: nothing is claimed before it says so.
    expect(stored(service, id).status).toBe("running");

    fake.setRun(run.id, { status: "completed", conclusion: "cancelled" });
    await deliverGithub(service.http, {
      event: "workflow_run",
      payload: runPayload(fake.lastRun()),
    });
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "cancelled",
    ]);
  });

  test("a run that finished first keeps its real result (409 is read back)", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const id = newWorkflowId();
    await dispatchGithub(serviceTarget(service), id);
    fake.setRun(fake.lastRun().id, { status: "completed", conclusion: "success" });

    await github(service).cancel(stored(service, id));
    expect(fake.callsTo("POST", /\/cancel$/)).toHaveLength(1);
    await until(() => stored(service, id).status === "success", "success");
  });

  test("a workflow whose run was never found is cancelled without GitHub", async () => {
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
    expect(tack.workflows.get(id)?.status).toBe("cancelled");
  });
});

describe("github check", () => {
  test("a classic token: works, with its scopes, never printed", async () => {
    const fake = startFakeGithub();
    const service = await githubTack(fake);
    const checks = (await github(service).check?.()) ?? [];
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["github token", true],
      ["github token scopes", true],
    ]);
    expect(checks[0]?.detail).toBe(`accepted by ${fake.url}; 4999 of 5000 requests left this hour`);
    expect(checks[1]?.detail).toBe("classic token with scopes: repo, workflow");
    expect(JSON.stringify(checks)).not.toContain(GITHUB_TOKEN);
    expect(fake.callsTo("GET", /^\/rate_limit$/)).toHaveLength(1);
  });

  test("a classic token without repo fails the scope check", async () => {
    const fake = startFakeGithub();
    fake.scopes = "read:org, workflow";
    const service = await githubTack(fake);
    const checks = (await github(service).check?.()) ?? [];
    expect(checks[1]).toMatchObject({ name: "github token scopes", ok: false });
    expect(checks[1]?.detail).toContain("it needs `repo`");
  });

  test("a fine-grained token shows no scopes and is told what it needs", async () => {
    const fake = startFakeGithub();
    fake.scopes = undefined;
    const service = await githubTack(fake);
    const checks = (await github(service).check?.()) ?? [];
    expect(checks[1]?.ok).toBe(true);
    expect(checks[1]?.detail).toContain("Actions read and write and Contents read");
  });

  test("a rejected token fails the check without echoing it", async () => {
    const fake = startFakeGithub();
    fake.failNext("GET", /^\/rate_limit$/, 401);
    const service = await githubTack(fake);
    const checks = (await github(service).check?.()) ?? [];
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: "github token", ok: false });
    expect(checks[0]?.detail).toContain("answered 401");
    expect(JSON.stringify(checks)).not.toContain(GITHUB_TOKEN);
  });
});
