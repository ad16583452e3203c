/**
 * What a CI provider is to tack. The core knows only this file, the catalog and the registry;
 * nothing provider-specific leaks out of providers/<name>/.
 *
 * Lifecycle of one workflow routed to a provider: the pipeline layer validates the options
 * with `checkOptions`, emits `pending`, then calls `spawn` with the build variables the core
 * decided every build receives. From then on the provider reports progress through
 * `WorkflowStore.transition` (forward-only, whole-second spaced), serves `/logs` through `logs`,
 * and stops the build on `cancel` (the core then publishes `cancelled` itself). After a restart
 * `resume` receives the provider's unfinished workflows so none is left `running` forever.
 *
 * A provider is described once (ProviderDescriptor) and listed in catalog.ts; configuration,
 * the CLI help, the webhook route, `tack check` and retention learn it from there.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import type { Tx, Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { Metrics, WebhookResult } from "../metrics.ts";
import type { StoredWorkflow, Workflows } from "../pipeline/workflows.ts";
import type { WebhookDeliveries } from "./deliveries.ts";
import { ApiError } from "./http-client.ts";
import type { Redactor } from "./redact.ts";
import type { SpawnAttempts } from "./spawn-attempts.ts";

/**
 * `TACK_*` variables the core decided every build must receive (today the secrets URL and a
 * one-time token; later maybe more). A provider puts each into the build's environment the way
 * its CI allows, and never logs them.
 */
export type BuildVariables = Record<string, string>;

export interface Provider {
  /** The key under `tack:` in workflow YAML that routes to this provider. */
  readonly name: string;
  /** Returns what is wrong with the `tack.<name>` block, or undefined when it is usable. */
  checkOptions(options: unknown): string | undefined;
  /**
   * Starts the build, at most once per workflow even across crashes (a second call for the same
   * workflow finds the first build). Resolves once the CI accepted it; progress is reported
   * asynchronously. Throws an Error whose message may be published as the workflow's error.
   */
  spawn(workflow: StoredWorkflow, variables: BuildVariables): Promise<void>;
  /**
   * Opens the workflow's log stream. Throws LogsNotFoundError when there is nothing to show;
   * any other throw is a provider failure. Called before the WebSocket upgrade, so both become
   * real HTTP statuses. The iterator ends when the log is complete or `signal` aborts.
   */
  logs(workflow: StoredWorkflow, signal: AbortSignal): Promise<AsyncIterable<LogLine>>;
  /**
   * Asks the CI to stop the workflow's build. Resolves once the CI accepted (or the build had
   * already finished, or never existed); throws CancelError when the CI refuses or cannot be
   * reached. Never publishes a status: the core publishes `cancelled` after this resolves, and
   * statuses only move forward, so no later webhook or poll can undo it.
   */
  cancel(workflow: StoredWorkflow): Promise<void>;
  /** Picks up workflows that were still running when tack last stopped. */
  resume(workflows: StoredWorkflow[]): Promise<void>;
  /** Stops background work (timers, polls) at shutdown. */
  stop(): Promise<void>;
  /**
   * Handles `POST /webhooks/<name>` with the exact request bytes (a signature covers them).
   * Contract (docs/design.md, *Webhook contract*): verify → 401; parse → 400; ignored on purpose →
   * 200; applied durably (de-duplicated, forward-only) → 200; only our own failures are 5xx, so the
   * CI retries exactly when it should. Providers without webhooks leave this out (404).
   */
  webhook?(request: WebhookRequest): Promise<WebhookResponse>;
  /**
   * For retention: forgets up to `limit` references to builds that finished before `cutoffMs`
   * (Unix ms) inside `tx`, returning how many went. Their workflows keep their final status.
   */
  prune?(tx: Tx, cutoffMs: number, limit: number): number;
}

/**
 * One provider as the catalog lists it. `env` declares its `TACK_*` variables (TypeBox, with a
 * `description` each and `secret: true` on credentials, which are never echoed and are redacted
 * from everything tack writes); `configure` turns their validated values into the provider's
 * config, or undefined when the provider is not enabled.
 */
export interface ProviderDescriptor<Name extends string = string, C = unknown> {
  readonly name: Name;
  /** The CI's name for people: "Buildkite". */
  readonly title: string;
  /** The operator guide, relative to the repository. */
  readonly docs: string;
  readonly env: Record<string, TSchema>;
  /** The variable that switches the provider on; undefined when it is always on. */
  readonly enabledBy?: string;
  /** Throws an Error naming the variable when the set is incomplete. */
  configure(env: Record<string, string | undefined>): C | undefined;
  /** The secret values a config holds (tokens, webhook secrets): redacted everywhere. */
  secrets?(config: C): string[];
  /** Builds the provider; a provider's code may load here, so that unconfigured CIs cost nothing. */
  create(config: C, deps: ProviderDeps): Provider | Promise<Provider>;
  /**
   * For `tack check`: calls the CI's API to confirm the credentials work and carry what tack
   * needs (e.g. token scopes). Never includes a secret in its output.
   */
  check?(config: C, deps: ProviderDeps): Promise<ProviderCheck[]>;
}

/** The config type a descriptor produces. */
export type ConfigOf<D> = D extends ProviderDescriptor<string, infer C> ? C : never;

export interface ProviderCheck {
  /** What was checked, e.g. "buildkite token scopes". */
  name: string;
  ok: boolean;
  /** What was found, or what to fix. */
  detail: string;
}

export interface WebhookRequest {
  headers: Headers;
  body: Uint8Array;
}

export interface WebhookResponse {
  status: number;
  body: string;
  /** For tack_webhooks_total. */
  result: WebhookResult;
}

/** The part of the workflow store a provider may use. */
export type WorkflowStore = Pick<Workflows, "get" | "transition" | "unfinished">;

/** What every provider factory receives from the composition root (through the catalog). */
export interface ProviderDeps {
  db: Db;
  writer: Writer;
  workflows: WorkflowStore;
  deliveries: WebhookDeliveries;
  attempts: SpawnAttempts;
  /** Already redacting (see redact.ts). */
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  /** Instrumented fetch (counts and times every API request for /metrics). */
  fetch: typeof fetch;
  redactor: Redactor;
  /** TACK_DEV: repositories are cloned from knots over http:// instead of https://. */
  dev: boolean;
}

/** A cancel the CI refused or could not be asked: what failed and what the operator can do. */
export class CancelError extends Error {
  constructor(
    message: string,
    readonly provider: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CancelError";
  }

  /**
   * A cancel that failed on the CI's side, in tack's words: what could not be cancelled, the
   * CI's answer, and what to do (`onAuth` when the token was refused; try again when the CI
   * seems down).
   */
  static of(provider: string, what: string, error: unknown, onAuth: string): CancelError {
    const reason = error instanceof Error ? error.message : String(error);
    const hint =
      error instanceof ApiError && (error.status === 401 || error.status === 403)
        ? `; ${onAuth}`
        : error instanceof ApiError && error.transient
          ? `; ${error.details.api} may be down, try again`
          : "";
    return new CancelError(`could not cancel ${what}: ${reason}${hint}`, provider, {
      cause: error,
    });
  }
}

export class LogsNotFoundError extends Error {}

/**
 * One log frame in the upstream spindle's format. Field order and
 * omission rules follow Go's struct: `stream` only on data lines; `step_status`, `step_kind`,
 * `step_command` only on control lines, and `step_kind` 0 (system step) is omitted.
 */
export const LogLine = Type.Object({
  kind: Type.Union([Type.Literal("data"), Type.Literal("control")]),
  content: Type.String(),
  time: Type.String(),
  step_id: Type.Integer({ minimum: 0 }),
  stream: Type.Optional(Type.Union([Type.Literal("stdout"), Type.Literal("stderr")])),
  step_status: Type.Optional(Type.Union([Type.Literal("start"), Type.Literal("end")])),
  step_kind: Type.Optional(Type.Integer({ minimum: 1 })),
  step_command: Type.Optional(Type.String()),
});
export type LogLine = Static<typeof LogLine>;

/** RFC 3339 with trailing fractional zeros dropped, as Go prints time.Time. */
export function logTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.?0+Z$/, "Z");
}

export function controlLine(
  stepId: number,
  status: "start" | "end",
  name: string,
  command?: string,
  time: Date = new Date(),
): LogLine {
  const line: LogLine = {
    kind: "control",
    content: name,
    time: logTime(time),
    step_id: stepId,
    step_status: status,
    step_kind: 1,
  };
  if (command) line.step_command = command;
  return line;
}

export function dataLine(
  stepId: number,
  content: string,
  stream: "stdout" | "stderr" = "stdout",
  time: Date = new Date(),
): LogLine {
  return { kind: "data", content, time: logTime(time), step_id: stepId, stream };
}

/** A variable a provider needs once it is enabled; the error names both. */
export function requiredVariable(
  env: Record<string, string | undefined>,
  name: string,
  enabledBy: string,
): string {
  const value = env[name];
  if (value === undefined) throw new Error(`${name} is required when ${enabledBy} is set`);
  return value;
}
