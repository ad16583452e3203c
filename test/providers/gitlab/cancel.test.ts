/**
 * Cancelling a GitLab pipeline through the API, and `tack check` for the token and the runner
 * projects.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { systemClock } from "../../../src/clock.ts";
import { silentLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/metrics.ts";
import { checkProviders } from "../../../src/providers/catalog.ts";
import { WebhookDeliveries } from "../../../src/providers/deliveries.ts";
import type { GitlabConfig } from "../../../src/providers/gitlab/config.ts";
import { CancelError, type Provider } from "../../../src/providers/provider.ts";
import { SpawnAttempts } from "../../../src/providers/spawn-attempts.ts";
import {
  deliverGitlab,
  GITLAB_TOKEN,
  GITLAB_WEBHOOK_SECRET,
  RUNNER_PROJECT,
  RUNNER_PROJECT_ID,
} from "../../helpers/fake-gitlab.ts";
import type { TestTack } from "../../helpers/tack.ts";
import { checkRows } from "../check-rows.ts";
import {
  dispatchGitlab,
  FAST,
  gitlabConfig,
  gitlabProvider,
  gitlabTack,
  newWorkflowId,
  pipelineRow,
  serviceTarget,
  startFakeGitlab,
  statusesOf,
} from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

function gitlabOf(service: TestTack): Provider {
  const provider = service.tack.providers.get("gitlab");
  if (!provider) throw new Error("gitlab provider not configured");
  return provider;
}

function stored(service: TestTack, id: ReturnType<typeof newWorkflowId>) {
  const workflow = service.tack.workflows.get(id);
  if (!workflow) throw new Error("unknown workflow");
  return workflow;
}

const CANCEL = /\/pipelines\/\d+\/cancel$/;

/** `tack check`'s rows for GitLab on the database of a provider that ran pipelines. */
function checkOn(tack: ReturnType<typeof gitlabProvider>, config: GitlabConfig) {
  return checkProviders(
    { gitlab: config },
    {
      db: tack.database.db,
      writer: tack.writer,
      workflows: tack.workflows,
      log: silentLogger,
      clock: systemClock,
      metrics: new Metrics(),
      deliveries: new WebhookDeliveries(tack.database.db),
      attempts: new SpawnAttempts(tack.database.db, tack.writer),
      dev: true,
    },
    5_000,
  );
}

describe("gitlab cancel", () => {
  test("asks GitLab to cancel the pipeline and publishes nothing; no later report undoes the core's cancelled", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), id);
    const pipeline = gitlab.setPipeline(gitlab.lastPipeline().id, { status: "running" });
    await deliverGitlab(service.http, {
      event: "Pipeline Hook",
      payload: gitlab.pipelineHook(pipeline),
    });

    await gitlabOf(service).cancel(stored(service, id));
    const [call] = gitlab.callsTo("POST", CANCEL);
    expect(call?.path).toBe(`/projects/acme%2Ftangled-runner/pipelines/${pipeline.id}/cancel`);
    expect(call?.headers.get("private-token")).toBe(GITLAB_TOKEN);
    expect(gitlab.pipelines.get(pipeline.id)?.status).toBe("canceling");
    // The provider claims nothing: the core publishes the one `cancelled`.
    expect(stored(service, id).status).toBe("running");
    await service.tack.workflows.transition(id, "cancelled", {
      error: "User canceled the workflow",
    });

    // The pipeline still finished green before GitLab got to it: too late to matter.
    gitlab.setPipeline(pipeline.id, { status: "success" });
    const late = await deliverGitlab(service.http, {
      event: "Pipeline Hook",
      payload: gitlab.pipelineHook(pipeline),
    });
    expect(late.status).toBe(200);
    expect(statusesOf(service.tack.broker.store, id).map((s) => s.status)).toEqual([
      "pending",
      "running",
      "cancelled",
    ]);
  });

  test("a finished or deleted pipeline resolves the cancel, and nothing is published", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const finished = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), finished);
    gitlab.setPipeline(gitlab.lastPipeline().id, { status: "success" });
    await gitlabOf(service).cancel(stored(service, finished));
    expect(gitlab.lastPipeline().status).toBe("success");

    const deleted = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), deleted);
    gitlab.pipelines.delete(gitlab.lastPipeline().id);
    await gitlabOf(service).cancel(stored(service, deleted));
    expect(gitlab.callsTo("POST", CANCEL)).toHaveLength(2);
    expect(statusesOf(service.tack.broker.store, finished).map((s) => s.status)).toEqual([
      "pending",
    ]);
  });

  test("a cancel while the create is under way finds the pipeline by its name and stops it", async () => {
    const gitlab = startFakeGitlab();
    // No reconciler passes: only the cancel itself looks for the pipeline.
    const tack = gitlabProvider(gitlab, { ...FAST, reconcileIntervalMs: 3_600_000 });
    const id = newWorkflowId();
    gitlab.listLag = 2;
    const held = gitlab.holdNextCreate();
    const dispatched = dispatchGitlab(tack, id);
    const pipeline = await held.created;
    expect(pipelineRow(tack.database, id.pipelineRkey)?.pipeline_id).toBeNull();
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    await tack.provider.cancel(workflow);
    expect(gitlab.callsTo("POST", CANCEL).map((call) => call.path)).toEqual([
      `/projects/acme%2Ftangled-runner/pipelines/${pipeline.id}/cancel`,
    ]);
    held.release();
    expect(await dispatched).toBe("spawned");
    expect(gitlab.pipelines.size).toBe(1);
  });

  test("a pipeline the cancel could not find is cancelled once its create answers (the core asks again)", async () => {
    const gitlab = startFakeGitlab();
    // The runner forgot workflow:name, so nothing can find the pipeline before the answer.
    gitlab.nameTemplate = () => null;
    const tack = gitlabProvider(gitlab, { ...FAST, reconcileIntervalMs: 3_600_000 });
    const id = newWorkflowId();
    const held = gitlab.holdNextCreate();
    const dispatched = dispatchGitlab(tack, id);
    const pipeline = await held.created;
    const workflow = tack.workflows.get(id);
    if (!workflow) throw new Error("unknown workflow");
    // Nothing found until GitLab's list delay has passed: nothing to stop yet.
    await tack.provider.cancel(workflow);
    expect(gitlab.callsTo("POST", CANCEL)).toHaveLength(0);
    expect(pipelineRow(tack.database, id.pipelineRkey)?.state).toBe("tack:lost");
    await tack.workflows.transition(id, "cancelled", { error: "User canceled the workflow" });

    held.release();
    await dispatched;
    expect(gitlab.callsTo("POST", CANCEL).map((call) => call.path)).toEqual([
      `/projects/acme%2Ftangled-runner/pipelines/${pipeline.id}/cancel`,
    ]);
    expect(gitlab.pipelines.get(pipeline.id)?.status).toBe("canceling");
    expect(statusesOf(tack.store, id).map((s) => s.status)).toEqual(["pending", "cancelled"]);
  });

  test("a cancel GitLab refuses is a CancelError saying what to check, never the token", async () => {
    const gitlab = startFakeGitlab();
    const service = await gitlabTack(gitlab);
    const id = newWorkflowId();
    await dispatchGitlab(serviceTarget(service), id);
    gitlab.failNext("POST", CANCEL, 403, 1, {
      body: { message: `403 Forbidden - token ${GITLAB_TOKEN} lacks permission` },
    });
    const error = await gitlabOf(service)
      .cancel(stored(service, id))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(CancelError);
    const message = (error as CancelError).message;
    expect(message).toStartWith(
      `could not cancel GitLab pipeline ${gitlab.lastPipeline().id} in ${RUNNER_PROJECT}: GitLab API refused it (HTTP 403: the token needs the api scope`,
    );
    expect(message).toEndWith(
      "; the token (TACK_GITLAB_TOKEN) needs the api scope and at least the Developer role on the runner project",
    );
    expect(message).not.toContain(GITLAB_TOKEN);
    expect(stored(service, id).status).toBe("pending");
  });
});

describe("gitlab tack check", () => {
  test("a working token with the api scope and a Developer on the runner project pass", async () => {
    const gitlab = startFakeGitlab();
    const rows = await checkRows(
      "gitlab",
      gitlabConfig(gitlab, { TACK_GITLAB_PROJECT: RUNNER_PROJECT }),
    );
    expect(rows).toEqual([
      {
        name: "gitlab token",
        ok: true,
        detail: `accepted by ${gitlab.url} ("tack", expires 2099-01-05)`,
      },
      { name: "gitlab token scopes", ok: true, detail: "scopes: api, read_user" },
      {
        name: `gitlab project ${RUNNER_PROJECT}`,
        ok: true,
        detail: `${RUNNER_PROJECT} (id ${RUNNER_PROJECT_ID}): token role Developer, default branch main`,
      },
    ]);
    expect(JSON.stringify(rows)).not.toContain(GITLAB_TOKEN);
  });

  test("a token that lapses within a week fails the check, saying when", async () => {
    const gitlab = startFakeGitlab();
    gitlab.tokenExpiresAt = new Date(Date.now() + 4 * 24 * 60 * 60_000).toISOString().slice(0, 10);
    const rows = await checkRows("gitlab", gitlabConfig(gitlab));
    expect(rows[0]).toMatchObject({ name: "gitlab token", ok: false });
    expect(rows[0]?.detail).toBe(
      `accepted by ${gitlab.url} ("tack", expires ${gitlab.tokenExpiresAt}, in 3 days): renew TACK_GITLAB_TOKEN before then, or every GitLab workflow fails`,
    );
    expect(JSON.stringify(rows)).not.toContain(GITLAB_TOKEN);
  });

  test("a token without api, a Reporter, an unknown project and a wrong token each fail, saying why", async () => {
    const gitlab = startFakeGitlab();
    gitlab.scopes = ["read_api"];
    gitlab.runner.accessLevel = 20;
    const weak = await checkRows(
      "gitlab",
      gitlabConfig(gitlab, { TACK_GITLAB_PROJECT: RUNNER_PROJECT }),
    );
    expect(weak.map((row) => [row.name, row.ok, row.detail])).toEqual([
      ["gitlab token", true, `accepted by ${gitlab.url} ("tack", expires 2099-01-05)`],
      [
        "gitlab token scopes",
        false,
        "scopes: read_api; it needs `api` to create and cancel pipelines and read job traces",
      ],
      [
        `gitlab project ${RUNNER_PROJECT}`,
        false,
        `${RUNNER_PROJECT}: the token's role is Reporter; creating pipelines needs Developer or more`,
      ],
    ]);

    const missing = await checkRows(
      "gitlab",
      gitlabConfig(gitlab, { TACK_GITLAB_PROJECT: "acme/gone" }),
    );
    expect(missing.at(-1)).toEqual({
      name: "gitlab project acme/gone",
      ok: false,
      detail:
        'the project does not exist or the token cannot see it: GitLab API refused it (HTTP 404) (GET /projects/acme%2Fgone): "404 Project Not Found"',
    });

    const wrong = await checkRows("gitlab", {
      ...gitlabConfig(gitlab),
      token: "glpat-wrongwrongwrongwrong00",
    });
    expect(wrong).toEqual([
      {
        name: "gitlab token",
        ok: false,
        detail: `${gitlab.url} did not accept TACK_GITLAB_TOKEN: GitLab API refused it (HTTP 401: check TACK_GITLAB_TOKEN (expired or revoked?)) (GET /personal_access_tokens/self): "401 Unauthorized"`,
      },
    ]);
    expect(JSON.stringify(wrong)).not.toContain("glpat-wrong");
  });

  test("a Maintainer sees whether pipeline variables are allowed; an old GitLab shows no scopes", async () => {
    const gitlab = startFakeGitlab();
    gitlab.runner.accessLevel = 40;
    gitlab.tokenSelfKnown = false;
    const rows = await checkRows(
      "gitlab",
      gitlabConfig(gitlab, { TACK_GITLAB_PROJECT: String(RUNNER_PROJECT_ID) }),
    );
    expect(rows.map((row) => [row.ok, row.detail])).toEqual([
      [
        true,
        `accepted by ${gitlab.url}; this GitLab does not show a token's scopes (before 15.5): it needs the api scope`,
      ],
      [
        true,
        `${RUNNER_PROJECT} (id ${RUNNER_PROJECT_ID}): token role Maintainer, default branch main; pipeline variables are off (fine: tack sends inputs, only tack.gitlab.variables would be refused)`,
      ],
    ]);
  });

  test("without TACK_GITLAB_PROJECT, the projects of recent pipelines are checked", async () => {
    const gitlab = startFakeGitlab();
    const none = await checkRows("gitlab", gitlabConfig(gitlab));
    expect(none.at(-1)).toEqual({
      name: "gitlab projects",
      ok: true,
      detail: "no runner project to check yet (set TACK_GITLAB_PROJECT to have one checked)",
    });

    const tack = gitlabProvider(gitlab);
    await dispatchGitlab(tack, newWorkflowId(), { project: RUNNER_PROJECT });
    const rows = await checkOn(tack, gitlabConfig(gitlab));
    expect(rows.at(-1)?.name).toBe(`gitlab project ${RUNNER_PROJECT}`);
    expect(rows.at(-1)?.ok).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(GITLAB_WEBHOOK_SECRET);

    // A database from before this provider (tack check never migrates it) has no table yet.
    tack.database.sqlite.run("drop table gitlab_pipelines");
    const old = await checkOn(tack, gitlabConfig(gitlab));
    expect(old.map((row) => [row.name, row.ok])).toContainEqual(["gitlab projects", true]);
    expect(old.every((row) => row.ok)).toBe(true);
  });
});
