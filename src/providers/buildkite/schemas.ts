/**
 * Buildkite's wire objects as tack reads them: the build and job
 * objects of the REST API, which webhooks embed too, and the other bodies the client reads.
 * Only the fields tack uses are declared; Buildkite adds fields freely, so extra ones pass.
 * Everything from Buildkite is checked against these before use.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const BuildkiteJob = Type.Object({
  id: Type.String({ minLength: 1 }),
  // script | waiter | manual | trigger; only script jobs have a log.
  type: Type.String(),
  name: Type.Optional(Nullable(Type.String())),
  label: Type.Optional(Nullable(Type.String())),
  step_key: Type.Optional(Nullable(Type.String())),
  command: Type.Optional(Nullable(Type.String())),
  state: Type.Optional(Nullable(Type.String())),
  exit_status: Type.Optional(Nullable(Type.Integer())),
  web_url: Type.Optional(Nullable(Type.String())),
  started_at: Type.Optional(Nullable(Type.String())),
  finished_at: Type.Optional(Nullable(Type.String())),
  // Superseded attempts of a retried job; their logs are not the build's story.
  retried: Type.Optional(Type.Boolean()),
});
export type BuildkiteJob = Static<typeof BuildkiteJob>;

export const BuildkiteBuild = Type.Object({
  id: Type.String({ minLength: 1 }),
  number: Type.Integer({ minimum: 0 }),
  state: Type.String({ minLength: 1 }),
  blocked: Type.Optional(Type.Boolean()),
  // The API URL of the build: /v2/organizations/{org}/pipelines/{pipeline}/builds/{number}.
  url: Type.Optional(Type.String()),
  web_url: Type.Optional(Nullable(Type.String())),
  cancel_reason: Type.Optional(Nullable(Type.String())),
  // Values are strings when tack set them; other builds may carry anything.
  meta_data: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
  jobs: Type.Optional(Type.Array(BuildkiteJob)),
  pipeline: Type.Optional(Nullable(Type.Object({ slug: Type.String({ minLength: 1 }) }))),
  finished_at: Type.Optional(Nullable(Type.String())),
});
export type BuildkiteBuild = Static<typeof BuildkiteBuild>;

/** A build.* webhook body; job.* and ping bodies are acknowledged without being read. */
export const BuildkiteBuildEvent = Type.Object({
  event: Type.String({ pattern: "^build\\." }),
  build: BuildkiteBuild,
  pipeline: Type.Optional(Nullable(Type.Object({ slug: Type.String({ minLength: 1 }) }))),
  // Present on newer payloads; the org is otherwise read from the build's API URL.
  organization: Type.Optional(Nullable(Type.Object({ slug: Type.String({ minLength: 1 }) }))),
});
export type BuildkiteBuildEvent = Static<typeof BuildkiteBuildEvent>;

/** GET /v2/access-token. */
export const BuildkiteAccessToken = Type.Object({
  uuid: Type.Optional(Type.String()),
  scopes: Type.Array(Type.String()),
});
export type BuildkiteAccessToken = Static<typeof BuildkiteAccessToken>;

export const BuildkiteBuildList = Type.Array(BuildkiteBuild);
