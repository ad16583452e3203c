/**
 * GitLab's wire objects as tack reads them: the REST API's pipelines, jobs, projects and token,
 * and the `Pipeline Hook` / `Job Hook` webhook payloads. Only the fields tack uses are declared;
 * GitLab adds fields freely, so extra ones pass. Everything from GitLab is checked against these
 * before use.
 */
import { type Static, Type } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) =>
  Type.Optional(Type.Union([schema, Type.Null()]));

export const ApiPipeline = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  iid: Type.Optional(Type.Integer()),
  project_id: Type.Integer({ minimum: 1 }),
  status: Type.String(),
  ref: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  // The pipeline's `workflow:name` (GitLab 16.3+ returns it); it carries the correlation id.
  name: Nullable(Type.String()),
  web_url: Type.String(),
  created_at: Nullable(Type.String()),
  updated_at: Nullable(Type.String()),
});
export type ApiPipeline = Static<typeof ApiPipeline>;

export const ApiPipelineList = Type.Array(ApiPipeline);

export const ApiJob = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  stage: Type.Optional(Type.String()),
  status: Type.String(),
  failure_reason: Nullable(Type.String()),
  started_at: Nullable(Type.String()),
  finished_at: Nullable(Type.String()),
  web_url: Nullable(Type.String()),
});
export type ApiJob = Static<typeof ApiJob>;

export const ApiJobList = Type.Array(ApiJob);

const Access = Type.Union([Type.Object({ access_level: Type.Integer() }), Type.Null()]);

export const ApiProject = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  path_with_namespace: Type.String(),
  // Null for a project without a repository yet.
  default_branch: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  web_url: Type.Optional(Type.String()),
  permissions: Type.Optional(
    Type.Union([
      Type.Object({
        project_access: Type.Optional(Access),
        group_access: Type.Optional(Access),
      }),
      Type.Null(),
    ]),
  ),
  // Who may pass pipeline variables (no_one_allowed, developer, maintainer, owner); GitLab
  // shows it to maintainers only.
  ci_pipeline_variables_minimum_override_role: Nullable(Type.String()),
});
export type ApiProject = Static<typeof ApiProject>;

export const ApiTokenSelf = Type.Object({
  name: Type.String(),
  active: Type.Boolean(),
  revoked: Type.Optional(Type.Boolean()),
  scopes: Type.Array(Type.String()),
  expires_at: Nullable(Type.String()),
});
export type ApiTokenSelf = Static<typeof ApiTokenSelf>;

export const ApiUser = Type.Object({ id: Type.Integer(), username: Type.String() });

const HookProject = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  path_with_namespace: Type.String(),
});

export const HookBuild = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  stage: Type.Optional(Type.String()),
  status: Type.String(),
  failure_reason: Nullable(Type.String()),
  started_at: Nullable(Type.String()),
});

export const PipelineHookEvent = Type.Object({
  object_kind: Type.Literal("pipeline"),
  object_attributes: Type.Object({
    id: Type.Integer({ minimum: 1 }),
    iid: Type.Optional(Type.Integer()),
    name: Nullable(Type.String()),
    status: Type.String(),
    url: Type.Optional(Type.String()),
  }),
  project: HookProject,
  builds: Type.Optional(Type.Union([Type.Array(HookBuild), Type.Null()])),
});
export type PipelineHookEvent = Static<typeof PipelineHookEvent>;

export const JobHookEvent = Type.Object({
  object_kind: Type.Literal("build"),
  build_id: Type.Integer({ minimum: 1 }),
  build_name: Type.String(),
  build_status: Type.String(),
  build_started_at: Nullable(Type.String()),
  build_failure_reason: Nullable(Type.String()),
  pipeline_id: Type.Integer({ minimum: 1 }),
  project_id: Type.Integer({ minimum: 1 }),
});
export type JobHookEvent = Static<typeof JobHookEvent>;
