/**
 * A local stand-in for builds.sr.ht on 127.0.0.1, written from builds.sr.ht's GraphQL schema and
 * its API server, independent of src/.
 *
 * - `POST /query`: GraphQL. Documents are parsed and validated against the part of the real
 *   schema declared below (fields, arguments, argument and variable types, sub-selections), so a
 *   query tack sends that builds.sr.ht would reject is rejected here the same way (HTTP 422,
 *   `GRAPHQL_VALIDATION_FAILED`). Fields carry the schema's `@access(scope, kind)`: a token
 *   without the grant gets `Access denied` at that field's path and null there, propagated up to
 *   the nearest nullable field as gqlgen does. Resolver refusals are `errors` with HTTP 200.
 * - `GET /query/log/<job>/log` and `/query/log/<job>/<task>/log`: the log files, with `Range`
 *   (206, 416 past the end), 404 before the job or task started.
 * - Authentication as core-go does it: no header → 401, an unknown token → 403, both with a
 *   gqlerror body.
 *
 * Jobs follow builds.sr.ht's rules: submit validates the manifest (image, tasks, task names)
 * and answers PENDING, then the job is QUEUED; cancel works only on a RUNNING job ("Found no
 * running jobs for your account with this ID" otherwise); the job list is newest first, 25 a
 * page, with an opaque cursor. Tests move jobs along with start/runTask/finishTask/finish and
 * write their logs with appendLog.
 *
 * Knobs: `failNext` (answer an operation with an HTTP failure, optionally after performing
 * it), `holdNextSubmit` (the job exists, the answer waits), `onSubmit`, `paidAccount`,
 * `logScopeChecked` (whether the log files demand LOGS:RO, as newer deployments do).
 */
import type { Server } from "bun";
import { type HeldAnswer, heldAnswer } from "./held-answer.ts";

export const SOURCEHUT_TOKEN = "srht-pat-0123456789abcdefABCDEF0123456789abcdef";
/** A token with builds.sr.ht/JOBS:RW only: no LOGS:RO (the Go tack's blank-logs case). */
export const NO_LOGS_TOKEN = "srht-pat-nologs0123456789abcdefABCDEF01234567";
/** A token with builds.sr.ht/JOBS:RO only. */
export const READ_ONLY_TOKEN = "srht-pat-readonly0123456789abcdefABCDEF012345";

export type Grant = "RO" | "RW";
export type Grants = Partial<Record<"PROFILE" | "JOBS" | "LOGS" | "SECRETS", Grant>>;

export interface FakeTask {
  name: string;
  status: "PENDING" | "RUNNING" | "SUCCESS" | "FAILED" | "SKIPPED";
}

export interface FakeJob {
  id: number;
  owner: string;
  created: Date;
  updated: Date;
  status: "PENDING" | "QUEUED" | "RUNNING" | "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED";
  manifest: string;
  note: string | null;
  tags: string[];
  visibility: "PUBLIC" | "UNLISTED" | "PRIVATE";
  image: string;
  secrets: boolean;
  runner: string | null;
  tasks: FakeTask[];
  /** Log files by task name; "" is the master log. */
  logs: Map<string, string>;
  /** The manifest's environment as sourcehut's YAML parser reads it. */
  environment: Record<string, unknown>;
}

export interface RecordedCall {
  /** The GraphQL operation name, or "log" for a log file. */
  op: string;
  path: string;
  variables: Record<string, unknown>;
  headers: Headers;
  /** For log files: the Range header. */
  range: string | null;
  status: number;
  at: number;
}

interface Failure {
  op: string;
  status: number;
  remaining: number;
  thenPerform: boolean;
  headers: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// The schema: the types and fields of builds.sr.ht's schema.graphqls that tack may touch.

interface FieldDef {
  type: string;
  args?: Record<string, string>;
  access?: [string, Grant];
}

const SCALARS = new Set(["Int", "String", "Boolean", "Time", "Cursor", "ID"]);
const ENUMS: Record<string, string[]> = {
  JobStatus: ["PENDING", "QUEUED", "RUNNING", "SUCCESS", "FAILED", "TIMEOUT", "CANCELLED"],
  TaskStatus: ["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED"],
  Visibility: ["PUBLIC", "UNLISTED", "PRIVATE"],
};
const TYPES: Record<string, Record<string, FieldDef>> = {
  Query: {
    version: { type: "Version!" },
    me: { type: "User!", access: ["PROFILE", "RO"] },
    jobs: { type: "JobCursor!", args: { cursor: "Cursor" }, access: ["JOBS", "RO"] },
    job: { type: "Job", args: { id: "Int!" }, access: ["JOBS", "RO"] },
    secrets: { type: "SecretCursor!", args: { cursor: "Cursor" }, access: ["SECRETS", "RO"] },
  },
  Mutation: {
    submit: {
      type: "Job!",
      args: {
        manifest: "String!",
        tags: "[String!]",
        note: "String",
        secrets: "Boolean",
        execute: "Boolean",
        visibility: "Visibility",
      },
      access: ["JOBS", "RW"],
    },
    start: { type: "Job", args: { jobID: "Int!" }, access: ["JOBS", "RW"] },
    cancel: { type: "Job", args: { jobId: "Int!" }, access: ["JOBS", "RW"] },
  },
  Version: {
    major: { type: "Int!" },
    minor: { type: "Int!" },
    patch: { type: "Int!" },
    deprecationDate: { type: "Time" },
  },
  User: {
    id: { type: "Int!" },
    canonicalName: { type: "String!" },
    username: { type: "String!" },
  },
  JobCursor: { results: { type: "[Job!]!" }, cursor: { type: "Cursor" } },
  SecretCursor: { results: { type: "[Secret!]!" }, cursor: { type: "Cursor" } },
  Secret: { id: { type: "Int!" }, uuid: { type: "String!" }, name: { type: "String" } },
  Job: {
    id: { type: "Int!" },
    created: { type: "Time!" },
    updated: { type: "Time!" },
    status: { type: "JobStatus!" },
    manifest: { type: "String!" },
    note: { type: "String" },
    tags: { type: "[String!]!" },
    visibility: { type: "Visibility!" },
    image: { type: "String!" },
    runner: { type: "String" },
    owner: { type: "User!", access: ["PROFILE", "RO"] },
    tasks: { type: "[Task!]!" },
    log: { type: "Log", access: ["LOGS", "RO"] },
  },
  Task: {
    id: { type: "Int!" },
    created: { type: "Time!" },
    updated: { type: "Time!" },
    name: { type: "String!" },
    status: { type: "TaskStatus!" },
    log: { type: "Log", access: ["LOGS", "RO"] },
    job: { type: "Job!" },
  },
  Log: { last128KiB: { type: "String!" }, fullURL: { type: "String!" } },
};

// ---------------------------------------------------------------------------------------------
// A GraphQL reader for what tack sends: operations, variables, aliases, arguments, literals.

type ValueNode =
  | { kind: "variable"; name: string }
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "string"; value: string }
  | { kind: "boolean"; value: boolean }
  | { kind: "null" }
  | { kind: "enum"; value: string }
  | { kind: "list"; values: ValueNode[] }
  | { kind: "object"; fields: Record<string, ValueNode> };

interface Selection {
  alias: string;
  name: string;
  args: Record<string, ValueNode>;
  selections: Selection[] | undefined;
  line: number;
  column: number;
}

interface Operation {
  type: "query" | "mutation";
  name: string | undefined;
  variables: Record<string, string>;
  selections: Selection[];
}

class GraphqlError extends Error {
  constructor(
    message: string,
    readonly code = "GRAPHQL_VALIDATION_FAILED",
  ) {
    super(message);
  }
}

interface Token {
  kind: "punct" | "name" | "int" | "float" | "string";
  value: string;
  line: number;
  column: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  while (i < source.length) {
    const char = source[i] ?? "";
    if (char === "\n") {
      line++;
      lineStart = ++i;
      continue;
    }
    if (/[\s,\ufeff]/.test(char)) {
      i++;
      continue;
    }
    if (char === "#") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    const column = i - lineStart + 1;
    if (source.startsWith("...", i)) {
      tokens.push({ kind: "punct", value: "...", line, column });
      i += 3;
      continue;
    }
    if ("!$()[]{}:=@|&".includes(char)) {
      tokens.push({ kind: "punct", value: char, line, column });
      i++;
      continue;
    }
    const name = /^[_A-Za-z][_0-9A-Za-z]*/.exec(source.slice(i));
    if (name) {
      tokens.push({ kind: "name", value: name[0], line, column });
      i += name[0].length;
      continue;
    }
    const number = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(source.slice(i));
    if (number) {
      tokens.push({
        kind: number[1] || number[2] ? "float" : "int",
        value: number[0],
        line,
        column,
      });
      i += number[0].length;
      continue;
    }
    if (char === '"') {
      if (source.startsWith('"""', i)) throw new GraphqlError("block strings are not supported");
      let j = i + 1;
      let value = "";
      while (j < source.length && source[j] !== '"') {
        if (source[j] === "\\") {
          const next = source[j + 1] ?? "";
          const escapes: Record<string, string> = {
            n: "\n",
            t: "\t",
            r: "\r",
            b: "\b",
            f: "\f",
            '"': '"',
            "\\": "\\",
            "/": "/",
          };
          if (next === "u") {
            value += String.fromCharCode(Number.parseInt(source.slice(j + 2, j + 6), 16));
            j += 6;
          } else {
            value += escapes[next] ?? next;
            j += 2;
          }
        } else {
          value += source[j];
          j++;
        }
      }
      if (source[j] !== '"') throw new GraphqlError(`Unterminated string at ${line}:${column}`);
      tokens.push({ kind: "string", value, line, column });
      i = j + 1;
      continue;
    }
    throw new GraphqlError(`Unexpected character ${JSON.stringify(char)} at ${line}:${column}`);
  }
  return tokens;
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  operations(): Operation[] {
    const operations: Operation[] = [];
    while (this.at < this.tokens.length) operations.push(this.operation());
    return operations;
  }

  private operation(): Operation {
    const first = this.peek();
    if (first?.kind === "punct" && first.value === "{") {
      return { type: "query", name: undefined, variables: {}, selections: this.selectionSet() };
    }
    const type = this.name();
    if (type !== "query" && type !== "mutation") {
      throw new GraphqlError(`Unexpected Name "${type}"`);
    }
    let name: string | undefined;
    if (this.peek()?.kind === "name") name = this.name();
    const variables: Record<string, string> = {};
    if (this.isPunct("(")) {
      this.expect("(");
      while (!this.isPunct(")")) {
        this.expect("$");
        const variable = this.name();
        this.expect(":");
        variables[variable] = this.type();
        if (this.isPunct("=")) throw new GraphqlError("default values are not supported here");
      }
      this.expect(")");
    }
    return { type, name, variables, selections: this.selectionSet() };
  }

  private type(): string {
    let type: string;
    if (this.isPunct("[")) {
      this.expect("[");
      type = `[${this.type()}]`;
      this.expect("]");
    } else {
      type = this.name();
    }
    if (this.isPunct("!")) {
      this.expect("!");
      type += "!";
    }
    return type;
  }

  private selectionSet(): Selection[] {
    this.expect("{");
    const selections: Selection[] = [];
    while (!this.isPunct("}")) {
      if (this.isPunct("...")) throw new GraphqlError("fragments are not supported here");
      const token = this.peek();
      let alias = this.name();
      let name = alias;
      if (this.isPunct(":")) {
        this.expect(":");
        name = this.name();
      }
      const args: Record<string, ValueNode> = {};
      if (this.isPunct("(")) {
        this.expect("(");
        while (!this.isPunct(")")) {
          const arg = this.name();
          this.expect(":");
          args[arg] = this.value();
        }
        this.expect(")");
      }
      const selections_ = this.isPunct("{") ? this.selectionSet() : undefined;
      selections.push({
        alias,
        name,
        args,
        selections: selections_,
        line: token?.line ?? 0,
        column: token?.column ?? 0,
      });
      alias = "";
    }
    this.expect("}");
    if (selections.length === 0) throw new GraphqlError("Expected Name, found }");
    return selections;
  }

  private value(): ValueNode {
    const token = this.next();
    if (token.kind === "punct" && token.value === "$")
      return { kind: "variable", name: this.name() };
    if (token.kind === "int") return { kind: "int", value: Number(token.value) };
    if (token.kind === "float") return { kind: "float", value: Number(token.value) };
    if (token.kind === "string") return { kind: "string", value: token.value };
    if (token.kind === "name") {
      if (token.value === "true" || token.value === "false")
        return { kind: "boolean", value: token.value === "true" };
      if (token.value === "null") return { kind: "null" };
      return { kind: "enum", value: token.value };
    }
    if (token.value === "[") {
      const values: ValueNode[] = [];
      while (!this.isPunct("]")) values.push(this.value());
      this.expect("]");
      return { kind: "list", values };
    }
    if (token.value === "{") {
      const fields: Record<string, ValueNode> = {};
      while (!this.isPunct("}")) {
        const field = this.name();
        this.expect(":");
        fields[field] = this.value();
      }
      this.expect("}");
      return { kind: "object", fields };
    }
    throw new GraphqlError(`Unexpected ${token.value}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private next(): Token {
    const token = this.tokens[this.at++];
    if (!token) throw new GraphqlError("Unexpected <EOF>");
    return token;
  }

  private name(): string {
    const token = this.next();
    if (token.kind !== "name") throw new GraphqlError(`Expected Name, found ${token.value}`);
    return token.value;
  }

  private isPunct(value: string): boolean {
    const token = this.peek();
    return token?.kind === "punct" && token.value === value;
  }

  private expect(value: string): void {
    const token = this.next();
    if (token.kind !== "punct" || token.value !== value)
      throw new GraphqlError(`Expected ${value}, found ${token.value}`);
  }
}

/** The named type of a type reference: "[Job!]!" → "Job". */
function namedType(type: string): string {
  return type.replace(/[[\]!]/g, "");
}

/** Checks an operation against the schema the way gqlgen's validation does. */
function validate(operation: Operation): void {
  const used = new Set<string>();
  const root = operation.type === "query" ? "Query" : "Mutation";
  const walk = (typeName: string, selections: Selection[]) => {
    const fields = TYPES[typeName];
    if (!fields) throw new GraphqlError(`Unknown type "${typeName}"`);
    for (const selection of selections) {
      if (selection.name === "__typename") continue;
      const field = fields[selection.name];
      if (!field) {
        throw new GraphqlError(`Cannot query field "${selection.name}" on type "${typeName}".`);
      }
      const args = field.args ?? {};
      for (const [arg, value] of Object.entries(selection.args)) {
        const expected = args[arg];
        if (!expected) {
          throw new GraphqlError(
            `Unknown argument "${arg}" on field "${typeName}.${selection.name}".`,
          );
        }
        checkValue(value, expected, operation, used, `${typeName}.${selection.name}(${arg})`);
      }
      for (const [arg, type] of Object.entries(args)) {
        if (type.endsWith("!") && !(arg in selection.args)) {
          throw new GraphqlError(
            `Field "${selection.name}" argument "${arg}" of type "${type}" is required, but it was not provided.`,
          );
        }
      }
      const inner = namedType(field.type);
      const leaf = SCALARS.has(inner) || inner in ENUMS;
      if (leaf && selection.selections) {
        throw new GraphqlError(
          `Field "${selection.name}" must not have a selection since type "${field.type}" has no subfields.`,
        );
      }
      if (!leaf && !selection.selections) {
        throw new GraphqlError(
          `Field "${selection.name}" of type "${field.type}" must have a selection of subfields.`,
        );
      }
      if (selection.selections) walk(inner, selection.selections);
    }
  };
  walk(root, operation.selections);
  for (const variable of Object.keys(operation.variables)) {
    if (!used.has(variable)) throw new GraphqlError(`Variable "$${variable}" is never used.`);
  }
}

function checkValue(
  value: ValueNode,
  expected: string,
  operation: Operation,
  used: Set<string>,
  where: string,
): void {
  if (value.kind === "variable") {
    const declared = operation.variables[value.name];
    if (declared === undefined) throw new GraphqlError(`Variable "$${value.name}" is not defined.`);
    used.add(value.name);
    // A non-null variable fits a nullable argument; not the other way round.
    const fits = declared === expected || declared === `${expected}!`;
    if (!fits) {
      throw new GraphqlError(
        `Variable "$${value.name}" of type "${declared}" used in position expecting type "${expected}".`,
      );
    }
    return;
  }
  const base = expected.replace(/!$/, "");
  if (value.kind === "null") {
    if (expected.endsWith("!"))
      throw new GraphqlError(`Expected value of type "${expected}", found null.`);
    return;
  }
  if (base.startsWith("[")) {
    const item = base.slice(1, -1);
    const values = value.kind === "list" ? value.values : [value];
    for (const one of values) checkValue(one, item, operation, used, where);
    return;
  }
  const ok =
    (base === "Int" && value.kind === "int") ||
    (base === "String" && value.kind === "string") ||
    (base === "Cursor" && value.kind === "string") ||
    (base === "Boolean" && value.kind === "boolean") ||
    (base in ENUMS && value.kind === "enum" && (ENUMS[base] ?? []).includes(value.value));
  if (!ok) throw new GraphqlError(`Expected value of type "${expected}" at ${where}.`);
}

/** A variable's value, checked against its declared type (gqlgen refuses a mismatch). */
function coerce(name: string, type: string, value: unknown): unknown {
  if (value === undefined || value === null) {
    if (type.endsWith("!")) throw new GraphqlError(`input: variable.${name} must be defined`);
    return null;
  }
  const base = type.replace(/!$/, "");
  if (base.startsWith("[")) {
    if (!Array.isArray(value)) throw new GraphqlError(`input: variable.${name} must be a list`);
    return value.map((item) => coerce(name, base.slice(1, -1), item));
  }
  const fits =
    (base === "Int" && Number.isInteger(value)) ||
    ((base === "String" || base === "Cursor") && typeof value === "string") ||
    (base === "Boolean" && typeof value === "boolean") ||
    (base in ENUMS && typeof value === "string" && (ENUMS[base] ?? []).includes(value));
  if (!fits) throw new GraphqlError(`input: variable.${name} is not a valid ${base}`);
  return value;
}

// ---------------------------------------------------------------------------------------------

const BUBBLE = Symbol("null propagates to the parent");
const PAGE = 25;
let nextJobId = 1_200_001;

type Args = Record<string, unknown>;
type Resolver = (args: Args) => unknown;
type Obj = Record<string, unknown>;

class ResolverError extends Error {}

export class FakeSourcehut {
  readonly calls: RecordedCall[] = [];
  /** Requests builds.sr.ht would have refused, described; tests expect this to stay empty. */
  readonly problems: string[] = [];
  readonly jobs = new Map<number, FakeJob>();
  readonly tokens = new Map<string, { user: string; grants: Grants }>([
    [SOURCEHUT_TOKEN, { user: "tackbot", grants: { JOBS: "RW", LOGS: "RO" } }],
    [NO_LOGS_TOKEN, { user: "tackbot", grants: { JOBS: "RW" } }],
    [READ_ONLY_TOKEN, { user: "tackbot", grants: { JOBS: "RO", LOGS: "RO" } }],
  ]);
  /** Whether the log files refuse a token without LOGS:RO (newer deployments do). */
  logScopeChecked = true;
  paidAccount = true;
  /** Called once a submit has created its job, before the answer goes out. */
  onSubmit: ((job: FakeJob) => void) | undefined;
  private readonly failures: Failure[] = [];
  private held: HeldAnswer<FakeJob> | undefined;

  private constructor(private readonly server: Server<undefined>) {}

  static start(): FakeSourcehut {
    let self: FakeSourcehut | undefined;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => (self ? self.handle(request) : new Response(null, { status: 503 })),
    });
    self = new FakeSourcehut(server);
    return self;
  }

  /** The base URL, as TACK_SOURCEHUT_INSTANCE would name it. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop(true);
  }

  /** Answers the next `count` calls of operation `op` ("submit", "poll", "log", …) with `status`. */
  failNext(
    op: string,
    status: number,
    count = 1,
    options: { thenPerform?: boolean; headers?: Record<string, string> } = {},
  ): void {
    this.failures.push({
      op,
      status,
      remaining: count,
      thenPerform: options.thenPerform ?? false,
      headers: options.headers ?? {},
    });
  }

  /** Holds back the answer of the next submit: `submitted` resolves once the job exists. */
  holdNextSubmit(): { submitted: Promise<FakeJob>; release: () => void } {
    const held = heldAnswer<FakeJob>();
    this.held = held;
    return { submitted: held.reached, release: held.release };
  }

  callsTo(op: string): RecordedCall[] {
    return this.calls.filter((call) => call.op === op);
  }

  lastJob(): FakeJob {
    const job = [...this.jobs.values()].at(-1);
    if (!job) throw new Error("fake sourcehut: no job submitted");
    return job;
  }

  /** The jobs whose manifest carries `text` (a correlation id). */
  jobsWith(text: string): FakeJob[] {
    return [...this.jobs.values()].filter((job) => job.manifest.includes(text));
  }

  /** A job made elsewhere (the web UI, another tool) for the token's owner, as submit makes it. */
  seedJob(args: { manifest?: string; note: string | null; tags: string[] }): FakeJob {
    const identity = this.tokens.get(SOURCEHUT_TOKEN);
    if (!identity) throw new Error("fake sourcehut: no default token");
    const hook = this.onSubmit;
    this.onSubmit = undefined;
    try {
      const manifest = args.manifest ?? "image: alpine/edge\ntasks:\n  - build: make\n";
      return this.job(this.submit({ ...args, manifest, secrets: false }, identity).id);
    } finally {
      this.onSubmit = hook;
    }
  }

  /** The jobs submitted for one Tangled workflow (by the TACK_* variables in their manifest). */
  jobsFor(pipelineRkey: string, workflow: string): FakeJob[] {
    return [...this.jobs.values()].filter(
      (job) =>
        job.environment.TACK_PIPELINE_RKEY === pipelineRkey &&
        job.environment.TACK_WORKFLOW === workflow,
    );
  }

  job(id: number): FakeJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`fake sourcehut: no job ${id}`);
    return job;
  }

  /** A runner claims the job: RUNNING, with the master log's first lines. */
  start(id: number): FakeJob {
    const job = this.job(id);
    job.status = "RUNNING";
    job.runner = "runner1.builds.test:8080";
    job.updated = new Date();
    this.appendLog(
      id,
      undefined,
      `${this.stamp(job)}Booting image ${job.image} (default) on arch x86_64\n`,
    );
    this.appendLog(id, undefined, `${this.stamp(job)}Waiting for guest to settle\n`);
    return job;
  }

  runTask(id: number, name: string): void {
    const job = this.job(id);
    this.task(job, name).status = "RUNNING";
    this.appendLog(id, undefined, `${this.stamp(job)}Running task ${name}\n`);
    if (!job.logs.has(name)) job.logs.set(name, "");
  }

  finishTask(id: number, name: string, status: "SUCCESS" | "FAILED" | "SKIPPED"): void {
    const job = this.job(id);
    this.task(job, name).status = status;
    job.updated = new Date();
  }

  finish(id: number, status: "SUCCESS" | "FAILED" | "TIMEOUT" | "CANCELLED"): void {
    const job = this.job(id);
    if (status === "SUCCESS") this.appendLog(id, undefined, `${this.stamp(job)}Build complete.\n`);
    job.status = status;
    job.updated = new Date();
  }

  /** Appends to the master log (`task` undefined) or to a task's log. */
  appendLog(id: number, task: string | undefined, text: string): void {
    const job = this.job(id);
    job.logs.set(task ?? "", (job.logs.get(task ?? "") ?? "") + text);
  }

  /** Runs a submitted job to `status` with every task's log, as a runner would. */
  runToEnd(id: number, status: "SUCCESS" | "FAILED" = "SUCCESS"): void {
    const job = this.job(id);
    if (job.status !== "RUNNING") this.start(id);
    job.tasks.forEach((task, index) => {
      this.runTask(id, task.name);
      this.appendLog(
        id,
        task.name,
        `+ echo ${task.name}\r\n\u001b[32m${task.name} ok\u001b[0m\r\n`,
      );
      const failed = status === "FAILED" && index === job.tasks.length - 1;
      this.finishTask(id, task.name, failed ? "FAILED" : "SUCCESS");
    });
    this.finish(id, status);
  }

  private stamp(job: FakeJob): string {
    const now = new Date();
    const p = (n: number) => String(n).padStart(2, "0");
    return `[#${job.id}] ${now.getUTCFullYear()}/${p(now.getUTCMonth() + 1)}/${p(now.getUTCDate())} ${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())} `;
  }

  private task(job: FakeJob, name: string): FakeTask {
    const task = job.tasks.find((candidate) => candidate.name === name);
    if (!task) throw new Error(`fake sourcehut: job ${job.id} has no task ${name}`);
    return task;
  }

  // -------------------------------------------------------------------------------------------

  private async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/query" && request.method === "POST") return this.graphql(request);
    const log = /^\/query\/log\/(\d+)(?:\/([^/]+))?\/log$/.exec(url.pathname);
    if (log && (request.method === "GET" || request.method === "HEAD")) {
      return this.logFile(request, url, Number(log[1]), log[2] ? decodeURIComponent(log[2]) : "");
    }
    return new Response("404 page not found\n", { status: 404 });
  }

  /** core-go's authentication: who is calling, or the refusal to send. */
  private authenticate(request: Request): { user: string; grants: Grants } | Response {
    const header = request.headers.get("authorization");
    if (!header) {
      return Response.json(
        { message: "Authentication error: Authorization header is required" },
        { status: 401 },
      );
    }
    const bearer = /^Bearer (\S+)$/.exec(header)?.[1] ?? "";
    const identity = this.tokens.get(bearer);
    if (!identity) {
      return Response.json(
        { message: "Authentication error: Invalid or expired OAuth 2.0 bearer token" },
        { status: 403 },
      );
    }
    return identity;
  }

  private record(call: Omit<RecordedCall, "at">): void {
    this.calls.push({ ...call, at: Date.now() });
  }

  private failure(op: string): Failure | undefined {
    const failure = this.failures.find((f) => f.remaining > 0 && f.op === op);
    if (failure) failure.remaining--;
    return failure;
  }

  private async graphql(request: Request): Promise<Response> {
    if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
      this.problems.push(`POST /query: Content-Type ${request.headers.get("content-type")}`);
    }
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = (await request.json()) as typeof body;
    } catch {
      return Response.json(
        { errors: [{ message: "json body could not be decoded" }], data: null },
        { status: 400 },
      );
    }
    const variables =
      typeof body.variables === "object" && body.variables !== null
        ? (body.variables as Record<string, unknown>)
        : {};
    let operation: Operation;
    try {
      if (typeof body.query !== "string") throw new GraphqlError("no query document supplied");
      const operations = new Parser(tokenize(body.query)).operations();
      const chosen =
        operations.length === 1
          ? operations[0]
          : operations.find((candidate) => candidate.name === body.operationName);
      if (!chosen) throw new GraphqlError("operation not found");
      operation = chosen;
      validate(operation);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.problems.push(`POST /query: invalid document: ${message}`);
      this.record({
        op: "invalid",
        path: "/query",
        variables,
        headers: request.headers,
        range: null,
        status: 422,
      });
      return this.errorsAnswer(422, [
        { message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } },
      ]);
    }
    const op = operation.name ?? operation.selections[0]?.name ?? "anonymous";
    const failure = this.failure(op);
    const identity = this.authenticate(request);
    const status = failure ? failure.status : identity instanceof Response ? identity.status : 200;
    this.record({ op, path: "/query", variables, headers: request.headers, range: null, status });
    if (failure) {
      if (failure.thenPerform && !(identity instanceof Response)) {
        this.execute(operation, variables, identity);
      }
      return Response.json(
        { errors: [{ message: `injected ${failure.status}` }] },
        { status: failure.status, headers: failure.headers },
      );
    }
    if (identity instanceof Response) return identity;
    let answer: { data: unknown; errors: unknown[] };
    try {
      answer = this.execute(operation, variables, identity);
    } catch (error) {
      if (!(error instanceof GraphqlError)) throw error;
      this.problems.push(`POST /query: ${error.message}`);
      return this.errorsAnswer(422, [{ message: error.message, extensions: { code: error.code } }]);
    }
    if (op === "submit" && this.held && answer.data !== null) {
      const held = this.held;
      this.held = undefined;
      held.arrived(this.lastJob());
      await held.gate;
    }
    const out: Record<string, unknown> = { data: answer.data };
    if (answer.errors.length > 0) out.errors = answer.errors;
    return Response.json(out, { status: 200 });
  }

  private errorsAnswer(status: number, errors: unknown[]): Response {
    return Response.json({ errors, data: null }, { status });
  }

  private execute(
    operation: Operation,
    raw: Record<string, unknown>,
    identity: { user: string; grants: Grants },
  ): { data: unknown; errors: unknown[] } {
    const variables: Record<string, unknown> = {};
    for (const [name, type] of Object.entries(operation.variables)) {
      variables[name] = coerce(name, type, raw[name]);
    }
    const errors: unknown[] = [];
    const root =
      operation.type === "query" ? this.queryRoot(identity) : this.mutationRoot(identity);
    const rootType = operation.type === "query" ? "Query" : "Mutation";
    const data = this.selectionSet(
      rootType,
      root,
      operation.selections,
      [],
      variables,
      identity,
      errors,
    );
    return { data: data === BUBBLE ? null : data, errors };
  }

  private selectionSet(
    typeName: string,
    object: Obj,
    selections: Selection[],
    path: (string | number)[],
    variables: Record<string, unknown>,
    identity: { grants: Grants },
    errors: unknown[],
  ): Record<string, unknown> | typeof BUBBLE {
    const out: Record<string, unknown> = {};
    for (const selection of selections) {
      if (selection.name === "__typename") {
        out[selection.alias] = typeName;
        continue;
      }
      const field = TYPES[typeName]?.[selection.name];
      if (!field)
        throw new GraphqlError(`Cannot query field "${selection.name}" on type "${typeName}".`);
      const here = [...path, selection.alias];
      const args = Object.fromEntries(
        Object.entries(selection.args).map(([name, value]) => [name, literal(value, variables)]),
      );
      let value: unknown;
      const [scope, kind] = field.access ?? [];
      const granted = identity.grants[(scope ?? "") as keyof Grants];
      if (scope && (granted === undefined || (kind === "RW" && granted === "RO"))) {
        errors.push({ message: "Access denied", path: here });
        value = null;
      } else {
        try {
          const member = object[selection.name];
          value = typeof member === "function" ? (member as Resolver)(args) : member;
        } catch (error) {
          if (!(error instanceof ResolverError)) throw error;
          errors.push({ message: error.message, path: here });
          value = null;
        }
      }
      const completed = this.complete(
        field.type,
        value,
        selection,
        here,
        variables,
        identity,
        errors,
      );
      if (completed === BUBBLE) return BUBBLE;
      out[selection.alias] = completed;
    }
    return out;
  }

  private complete(
    type: string,
    value: unknown,
    selection: Selection,
    path: (string | number)[],
    variables: Record<string, unknown>,
    identity: { grants: Grants },
    errors: unknown[],
  ): unknown {
    const nonNull = type.endsWith("!");
    const base = nonNull ? type.slice(0, -1) : type;
    if (value === null || value === undefined) return nonNull ? BUBBLE : null;
    if (base.startsWith("[")) {
      const items = value as unknown[];
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = this.complete(
          base.slice(1, -1),
          items[i],
          selection,
          [...path, i],
          variables,
          identity,
          errors,
        );
        if (item === BUBBLE) return nonNull ? BUBBLE : null;
        out.push(item);
      }
      return out;
    }
    if (SCALARS.has(base) || base in ENUMS) return value;
    const object = this.selectionSet(
      base,
      value as Obj,
      selection.selections ?? [],
      path,
      variables,
      identity,
      errors,
    );
    if (object === BUBBLE) return nonNull ? BUBBLE : null;
    return object;
  }

  private queryRoot(identity: { user: string; grants: Grants }): Obj {
    return {
      version: { major: 0, minor: 78, patch: 4, deprecationDate: null },
      me: { id: 1, canonicalName: `~${identity.user}`, username: identity.user },
      job: ({ id }: Args) => {
        const job = this.jobs.get(id as number);
        return job && job.owner === identity.user ? this.jobObject(job, identity) : null;
      },
      jobs: ({ cursor }: Args) => {
        const before = typeof cursor === "string" ? Number(atob(cursor)) : Number.POSITIVE_INFINITY;
        const mine = [...this.jobs.values()]
          .filter((job) => job.owner === identity.user && job.id <= before)
          .sort((a, b) => b.id - a.id);
        const page = mine.slice(0, PAGE);
        const next = mine[PAGE];
        return {
          results: page.map((job) => this.jobObject(job, identity)),
          cursor: next ? btoa(String(next.id)) : null,
        };
      },
      secrets: () => ({ results: [], cursor: null }),
    };
  }

  private mutationRoot(identity: { user: string; grants: Grants }): Obj {
    return {
      submit: (args: Args) => this.jobObject(this.submit(args, identity), identity),
      start: () => {
        throw new ResolverError("Found no pending jobs with this ID on your account");
      },
      cancel: ({ jobId }: Args) => {
        const job = this.jobs.get(jobId as number);
        if (!job || job.owner !== identity.user || job.status !== "RUNNING") {
          throw new ResolverError("Found no running jobs for your account with this ID");
        }
        job.status = "CANCELLED";
        job.updated = new Date();
        return this.jobObject(job, identity);
      },
    };
  }

  /** builds.sr.ht's submit: the manifest's checks, then a PENDING job that is queued at once. */
  private submit(
    args: Record<string, unknown>,
    identity: { user: string; grants: Grants },
  ): FakeJob {
    const manifest = args.manifest as string;
    let parsed: unknown;
    try {
      parsed = Bun.YAML.parse(manifest);
    } catch (error) {
      throw new ResolverError(`yaml: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ResolverError("yaml: unmarshal errors: cannot unmarshal into manifest");
    }
    const document = parsed as Record<string, unknown>;
    if (typeof document.image !== "string" || document.image === "") {
      throw new ResolverError("image is required");
    }
    const tasks = Array.isArray(document.tasks) ? document.tasks : [];
    if (tasks.length === 0 && document.shell !== true)
      throw new ResolverError("list of tasks is required");
    const names: string[] = [];
    for (const task of tasks) {
      const keys = typeof task === "object" && task !== null ? Object.keys(task) : [];
      if (keys.length !== 1) {
        throw new ResolverError(
          `task schema is {"name": "value"} (or 'taskname: script...' as YAML)`,
        );
      }
      const name = keys[0] ?? "";
      if (names.includes(name)) throw new ResolverError(`duplicate task ${name}`);
      if (!/^[a-z0-9_-]+$/.test(name)) throw new ResolverError(`invalid task name '${name}'`);
      names.push(name);
    }
    if (!this.paidAccount) throw new ResolverError("A paid account is required to submit builds");
    const secrets =
      args.secrets === null || args.secrets === undefined ? false : (args.secrets as boolean);
    if (secrets && identity.grants.SECRETS === undefined) throw new ResolverError("Access denied");
    const environment = document.environment;
    const now = new Date();
    const job: FakeJob = {
      id: nextJobId++,
      owner: identity.user,
      created: now,
      updated: now,
      status: "PENDING",
      manifest,
      note: (args.note as string | null) ?? null,
      tags: ((args.tags as string[] | null) ?? []).join("/").split("/").filter(Boolean),
      visibility: (args.visibility as FakeJob["visibility"] | null) ?? "UNLISTED",
      image: document.image,
      secrets,
      runner: null,
      tasks: names.map((name) => ({ name, status: "PENDING" })),
      logs: new Map(),
      environment:
        typeof environment === "object" && environment !== null && !Array.isArray(environment)
          ? (environment as Record<string, unknown>)
          : {},
    };
    this.jobs.set(job.id, job);
    this.onSubmit?.(job);
    // The answer shows the job as inserted; the queue takes it at once.
    const answered = { ...job };
    job.status = "QUEUED";
    return answered;
  }

  /** A job as GraphQL resolves it (fields and the per-field resolvers of log and tasks). */
  private jobObject(job: FakeJob, identity: { grants: Grants }): Obj {
    const logOf = (task: string | undefined) =>
      job.runner === null
        ? null
        : {
            fullURL: `${this.url}/query/log/${job.id}${task === undefined ? "" : `/${task}`}/log`,
            last128KiB: (job.logs.get(task ?? "") ?? "").slice(-131072),
          };
    void identity;
    return {
      id: job.id,
      created: iso(job.created),
      updated: iso(job.updated),
      status: job.status,
      manifest: job.manifest,
      note: job.note,
      tags: job.tags,
      visibility: job.visibility,
      image: job.image,
      runner: job.runner,
      owner: { id: 1, canonicalName: `~${job.owner}`, username: job.owner },
      tasks: () =>
        job.tasks.map((task) => ({
          id: job.id * 100 + job.tasks.indexOf(task),
          created: iso(job.created),
          updated: iso(job.updated),
          name: task.name,
          status: task.status,
          log: () => (task.status === "PENDING" ? null : logOf(task.name)),
          job: () => this.jobObject(job, identity),
        })),
      log: () => logOf(undefined),
    };
  }

  private logFile(request: Request, url: URL, id: number, task: string): Response {
    const identity = this.authenticate(request);
    const failure = this.failure("log");
    const range = request.headers.get("range");
    const respond = (
      status: number,
      body: string | Uint8Array | null,
      headers: Record<string, string> = {},
    ) => {
      this.record({
        op: "log",
        path: url.pathname,
        variables: {},
        headers: request.headers,
        range,
        status,
      });
      return new Response(request.method === "HEAD" ? null : body, { status, headers });
    };
    if (failure) return respond(failure.status, `injected ${failure.status}\n`, failure.headers);
    if (identity instanceof Response) {
      this.record({
        op: "log",
        path: url.pathname,
        variables: {},
        headers: request.headers,
        range,
        status: identity.status,
      });
      return identity;
    }
    if (this.logScopeChecked && identity.grants.LOGS === undefined)
      return respond(403, "Access denied\r\n");
    const job = this.jobs.get(id);
    if (!job || job.owner !== identity.user) return respond(404, "Unknown build job\r\n");
    if (job.runner === null) return respond(404, "This build job has not been started yet\r\n");
    const text = job.logs.get(task);
    if (text === undefined) return respond(404, "404 page not found\n");
    const bytes = new TextEncoder().encode(text);
    if (range === null) return respond(200, bytes, { "content-type": "text/plain" });
    const match = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (!match) {
      this.problems.push(`GET ${url.pathname}: Range ${range}`);
      return respond(200, bytes, { "content-type": "text/plain" });
    }
    const start = Number(match[1]);
    const end = Math.min(match[2] ? Number(match[2]) : bytes.length - 1, bytes.length - 1);
    if (start >= bytes.length) {
      return respond(416, null, { "content-range": `bytes */${bytes.length}` });
    }
    return respond(206, bytes.subarray(start, end + 1), {
      "content-type": "text/plain",
      "content-range": `bytes ${start}-${end}/${bytes.length}`,
    });
  }
}

function literal(value: ValueNode, variables: Record<string, unknown>): unknown {
  switch (value.kind) {
    case "variable":
      return variables[value.name] ?? null;
    case "int":
    case "float":
    case "string":
    case "boolean":
    case "enum":
      return value.value;
    case "null":
      return null;
    case "list":
      return value.values.map((item) => literal(item, variables));
    case "object":
      return Object.fromEntries(
        Object.entries(value.fields).map(([key, field]) => [key, literal(field, variables)]),
      );
  }
}

/** sourcehut's Time scalar: %Y-%m-%dT%H:%M:%SZ. */
function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The TACK_SOURCEHUT_* variables that point tack, run as a process, at this stand-in. */
export function sourcehutEnv(fake: { url: string }): Record<string, string> {
  return { TACK_SOURCEHUT_TOKEN: SOURCEHUT_TOKEN, TACK_SOURCEHUT_INSTANCE: fake.url };
}
