/**
 * Cancel for a Buildkite workflow: Buildkite is asked to stop the build and the call resolves
 * once it accepted, or when nothing is left to stop; a refusal is a CancelError saying what to
 * check. The provider publishes no status itself (the core publishes `cancelled`), and no later
 * webhook or poll can move the cancelled workflow.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { StoredWorkflow, WorkflowId } from "../../../src/pipeline/workflows.ts";
import { CancelError, type Provider } from "../../../src/providers/provider.ts";
import { type Harness, startHarness, TOKEN } from "./harness.ts";

setDefaultTimeout(30_000);

function parts(h: Harness, id: WorkflowId): { provider: Provider; workflow: StoredWorkflow } {
  const provider = h.service.tack.providers.get("buildkite");
  const workflow = h.workflow(id);
  if (!provider || !workflow) throw new Error("no provider or workflow");
  return { provider, workflow };
}

describe("buildkite cancel", () => {
  test("asks Buildkite to cancel, publishes nothing, and no later report moves the core's cancelled", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    const build = h.fake.onlyBuild();
    h.fake.update(build, { state: "running" });
    expect((await h.send(h.fake.webhook("build.running", build))).status).toBe(200);
    const { provider, workflow } = parts(h, id);

    await provider.cancel(workflow);
    expect(h.fake.callsTo("PUT", /\/builds\/1\/cancel$/)).toHaveLength(1);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending", "running"]);
    await h.service.tack.workflows.transition(id, "cancelled", {
      error: "User canceled the workflow",
    });

    // Buildkite's own report of the cancel, and a stale "passed", change nothing.
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    h.fake.update(build, { state: "passed" });
    expect((await h.send(h.fake.webhook("build.finished", build))).status).toBe(200);
    expect(h.statuses(id)).toEqual([
      { status: "pending" },
      { status: "running" },
      { status: "cancelled", error: "User canceled the workflow" },
    ]);
  });

  test("a build that already finished (422, read back) resolves the cancel", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    h.fake.update(h.fake.onlyBuild(), { state: "passed" });
    const { provider, workflow } = parts(h, id);
    await provider.cancel(workflow);
    expect(h.fake.callsTo("PUT", /\/cancel$/)).toHaveLength(1);
    expect(h.statuses(id).map((s) => s.status)).toEqual(["pending"]);
  });

  test("a refusal while the build still runs is a CancelError saying what to do, never the token", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    h.fake.update(h.fake.onlyBuild(), { state: "running" });
    h.fake.answerNext("PUT", /\/cancel$/, {
      status: 422,
      body: { message: `Build can't be canceled (token ${TOKEN})` },
    });
    const { provider, workflow } = parts(h, id);
    const error = await provider.cancel(workflow).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CancelError);
    expect(String(error)).toContain("could not cancel Buildkite build #1 of acme/app-ci");
    expect(String(error)).toContain("cancel it in Buildkite's UI");
    expect(String(error)).not.toContain(TOKEN);
  });

  test("an unreachable Buildkite is a CancelError that says so", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    h.fake.answerNext("PUT", /\/cancel$/, { status: 503, body: { message: "down" } }, 10);
    const { provider, workflow } = parts(h, id);
    const error = await provider.cancel(workflow).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CancelError);
    expect(String(error)).toContain("HTTP 503");
    expect(String(error)).toContain("Buildkite may be down, try again");
  });

  test("a build created but never recorded (a crash in between) is found by its meta_data and cancelled", async () => {
    await using h = await startHarness();
    const hold = h.fake.holdNextCreate();
    const dispatched = h.dispatch("ci.yml");
    const build = await hold.created;
    h.fake.update(build, { state: "running" });
    const id = {
      knot: build.meta_data["tack:knot"] ?? "",
      pipelineRkey: build.meta_data["tack:pipeline_rkey"] ?? "",
      name: "ci.yml",
    };
    const { provider, workflow } = parts(h, id);
    await provider.cancel(workflow);
    expect(h.fake.callsTo("PUT", /\/builds\/1\/cancel$/)).toHaveLength(1);
    hold.release();
    await dispatched;
  });
});
