/**
 * GitHub's wire objects as tack reads them: the REST API's runs, jobs and answers, and the
 * `workflow_run` / `workflow_job` webhook payloads. Only the fields tack uses are declared;
 * GitHub adds fields freely, so extra ones pass. Everything from GitHub is checked against
 * these before use.
 */
import { type Static, Type } from "@sinclair/typebox";

export const ApiRun = Type.Object({
  id: Type.Integer(),
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  display_title: Type.Optional(Type.String()),
  status: Type.Union([Type.String(), Type.Null()]),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  html_url: Type.String(),
  run_attempt: Type.Optional(Type.Integer()),
  created_at: Type.Optional(Type.String()),
});
export type ApiRun = Static<typeof ApiRun>;

export const ApiRunList = Type.Object({
  total_count: Type.Integer(),
  workflow_runs: Type.Array(ApiRun),
});

export const ApiStep = Type.Object({
  name: Type.String(),
  status: Type.String(),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  number: Type.Integer(),
  started_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  completed_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type ApiStep = Static<typeof ApiStep>;

export const ApiJob = Type.Object({
  id: Type.Integer(),
  run_id: Type.Integer(),
  name: Type.String(),
  status: Type.String(),
  conclusion: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  completed_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  html_url: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  steps: Type.Optional(Type.Array(ApiStep)),
});
export type ApiJob = Static<typeof ApiJob>;

export const ApiJobList = Type.Object({ total_count: Type.Integer(), jobs: Type.Array(ApiJob) });

export const DispatchDetails = Type.Object({
  workflow_run_id: Type.Integer(),
  run_url: Type.Optional(Type.String()),
  html_url: Type.Optional(Type.String()),
});

export const ApiRepository = Type.Object({ default_branch: Type.String({ minLength: 1 }) });
export const RateLimitBody = Type.Object({
  resources: Type.Object({
    core: Type.Object({ limit: Type.Integer(), remaining: Type.Integer(), reset: Type.Integer() }),
  }),
});

const Repository = Type.Object({ full_name: Type.String() });

export const WorkflowRunEvent = Type.Object({
  action: Type.String(),
  workflow_run: Type.Object({
    id: Type.Integer({ minimum: 1 }),
    display_title: Type.Optional(Type.String()),
    status: Type.String(),
    conclusion: Type.Union([Type.String(), Type.Null()]),
    html_url: Type.String(),
    run_attempt: Type.Optional(Type.Integer()),
  }),
  repository: Repository,
});
export type WorkflowRunEvent = Static<typeof WorkflowRunEvent>;

export const WorkflowJobEvent = Type.Object({
  action: Type.String(),
  workflow_job: Type.Object({
    id: Type.Integer({ minimum: 1 }),
    run_id: Type.Integer({ minimum: 1 }),
    name: Type.String(),
    status: Type.String(),
    conclusion: Type.Union([Type.String(), Type.Null()]),
    steps: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
  }),
  repository: Repository,
});
export type WorkflowJobEvent = Static<typeof WorkflowJobEvent>;
