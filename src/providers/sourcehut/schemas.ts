/**
 * builds.sr.ht's wire objects as tack reads them: the GraphQL envelope and the `data` of each
 * operation tack sends (client.ts), written from the builds.sr.ht GraphQL schema. Only the
 * fields tack asks for are declared; everything from sourcehut is checked against these before
 * use. Enum values (JobStatus, TaskStatus) stay strings: a value a newer sourcehut adds must
 * not make a whole answer unreadable (states.ts decides what an unknown one means).
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";

export const GraphqlError = Type.Object({
  message: Type.String(),
  path: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Integer()]))),
  extensions: Type.Optional(Type.Object({ code: Type.Optional(Type.String()) })),
});
export type GraphqlError = Static<typeof GraphqlError>;

/** Every answer: `data` (null when a non-null field failed) and, on trouble, `errors`. */
export function envelope<T extends TSchema>(data: T) {
  return Type.Object({
    data: Type.Optional(Type.Union([data, Type.Null()])),
    errors: Type.Optional(Type.Array(GraphqlError)),
  });
}

const Log = Type.Union([Type.Object({ fullURL: Type.String() }), Type.Null()]);

export const ApiTask = Type.Object({
  name: Type.String(),
  status: Type.String(),
});
export type ApiTask = Static<typeof ApiTask>;

/** A job as a poll sees it. */
export const ApiJob = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  status: Type.String(),
  runner: Type.Union([Type.String(), Type.Null()]),
  tasks: Type.Array(ApiTask),
});
export type ApiJob = Static<typeof ApiJob>;

/** A job as the log reader sees it: where its logs are (asking proves the LOGS:RO grant). */
export const ApiJobLogs = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  status: Type.String(),
  runner: Type.Union([Type.String(), Type.Null()]),
  log: Type.Optional(Log),
  tasks: Type.Array(
    Type.Object({ name: Type.String(), status: Type.String(), log: Type.Optional(Log) }),
  ),
});
export type ApiJobLogs = Static<typeof ApiJobLogs>;

/** A job as the list shows it, to find tack's own after a crash. */
export const ApiJobSummary = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  created: Type.String(),
  status: Type.String(),
  note: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
});
export type ApiJobSummary = Static<typeof ApiJobSummary>;

export const JobsPage = Type.Object({
  jobs: Type.Object({
    results: Type.Array(ApiJobSummary),
    cursor: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const JobManifest = Type.Object({
  job: Type.Union([Type.Object({ id: Type.Integer(), manifest: Type.String() }), Type.Null()]),
});

export const Submitted = Type.Object({
  submit: Type.Object({ id: Type.Integer({ minimum: 1 }), status: Type.String() }),
});

export const Cancelled = Type.Object({
  cancel: Type.Union([Type.Object({ id: Type.Integer(), status: Type.String() }), Type.Null()]),
});

export const Version = Type.Object({
  version: Type.Object({ major: Type.Integer(), minor: Type.Integer(), patch: Type.Integer() }),
});

/** The body of a manifest `triggers: - action: webhook` delivery (the worker's job JSON). */
export const CompletionNudge = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  status: Type.String(),
  note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type CompletionNudge = Static<typeof CompletionNudge>;
