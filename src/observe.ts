/**
 * What an operator watches: the /healthz report, the gauges read at /metrics scrape time, and
 * a log line when a workflow finishes. All of it only looks at components; nothing here changes
 * anything but the health probe row.
 *
 * Health has four states: `ok`; `degraded` (serving, but an upstream has been unreachable for
 * longer than a grace period, each problem named in `reasons`); `unavailable` (the database
 * takes no writes); `stopping`. Degraded still answers 200: the spindle serves what it has, and
 * a load balancer must not take it out of rotation for a Jetstream outage.
 */
import { healthProbe } from "./db/schema.ts";
import type { Writer } from "./db/writer.ts";
import type { TopicPublisher } from "./eventlog/broker.ts";
import type { HealthReport } from "./http/health.ts";
import type { OpenSockets } from "./http/sockets.ts";
import type { StatusPipeline } from "./http/status-page.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Pipelines, StoredPipeline } from "./pipeline/pipelines.ts";
import type { Workflows } from "./pipeline/workflows.ts";
import type { ProviderRegistry } from "./providers/registry.ts";
import type { JetstreamConsumer } from "./tangled/jetstream.ts";
import type { KnotStreams } from "./tangled/knots.ts";
import type { StreamBoard, StreamState } from "./tangled/ws-client.ts";
import { COMMIT, VERSION } from "./version.ts";

export interface ObservedService {
  writer: Writer;
  jetstream: JetstreamConsumer;
  knots: KnotStreams;
  /** Connection state of every followed knot's stream. */
  knotStreams: StreamBoard;
  providers: ProviderRegistry;
  workflows: Workflows;
  sockets: OpenSockets;
  stopping: () => boolean;
}

export interface HealthOptions {
  schemaVersion: number;
  /** An upstream disconnected for longer than this makes the service `degraded`. */
  disconnectedGraceMs: number;
  /** How long the write probe may wait (e.g. behind another process's lock). */
  probeTimeoutMs: number;
}

const DEFAULT_HEALTH: Omit<HealthOptions, "schemaVersion"> = {
  disconnectedGraceMs: 60_000,
  probeTimeoutMs: 1_000,
};

/** The database counts as writable when a real commit (with its fsync) succeeds in time. */
export function createHealthCheck(
  service: ObservedService,
  options: Partial<HealthOptions> & { schemaVersion: number },
): () => Promise<HealthReport> {
  const { disconnectedGraceMs, probeTimeoutMs, schemaVersion } = { ...DEFAULT_HEALTH, ...options };
  return async () => {
    const database = await probeDatabase(service.writer, probeTimeoutMs);
    const now = Date.now();
    const reasons: string[] = [];
    if (!database.writable) reasons.push(`database: ${database.error ?? "not writable"}`);

    const jetstream = service.jetstream.state();
    const jetstreamDown = downSeconds(jetstream, now);
    if (jetstreamDown !== null && jetstreamDown * 1000 >= disconnectedGraceMs) {
      reasons.push(`jetstream: ${describeDown(jetstream, jetstreamDown)}`);
    }
    const followed = service.knots.status();
    const streams = new Map(service.knotStreams.list().map((state) => [state.host, state]));
    const disconnected = followed
      .filter((knot) => !knot.connected)
      .map((knot) => {
        // A stream knows its URL's host, where a default port (knot.example:443) is dropped.
        const state =
          streams.get(knot.knot) ??
          streams.get(urlHost(`wss://${knot.knot}`)) ??
          streams.get(urlHost(`ws://${knot.knot}`));
        const seconds = state ? (downSeconds(state, now) ?? 0) : 0;
        if (seconds * 1000 >= disconnectedGraceMs)
          reasons.push(`knot ${knot.knot}: ${describeDown(state, seconds)}`);
        return {
          knot: knot.knot,
          seconds,
          ...(state?.lastError ? { error: state.lastError } : {}),
        };
      });

    const status = service.stopping()
      ? "stopping"
      : !database.writable
        ? "unavailable"
        : reasons.length > 0
          ? "degraded"
          : "ok";
    return {
      status,
      reasons,
      version: VERSION,
      commit: COMMIT,
      schema_version: schemaVersion,
      database,
      jetstream: {
        connected: jetstream.connected,
        disconnected_seconds: jetstreamDown,
        ...(jetstream.lastError && !jetstream.connected ? { last_error: jetstream.lastError } : {}),
        lag_seconds: jetstreamLag(service),
      },
      knots: {
        followed: followed.length,
        connected: followed.filter((k) => k.connected).length,
        disconnected,
      },
      providers: service.providers.all().map((provider) => provider.name),
    };
  };
}

async function probeDatabase(writer: Writer, timeoutMs: number): Promise<HealthReport["database"]> {
  const checkedAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const probe = writer.write((tx) =>
    tx
      .insert(healthProbe)
      .values({ id: 1, checkedAt })
      .onConflictDoUpdate({ target: healthProbe.id, set: { checkedAt } })
      .run(),
  );
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    if ((await Promise.race([probe, timedOut])) !== "timeout") return { writable: true };
    // The probe stays queued and commits once the database takes writes again.
    probe.catch(() => {});
    const since = writer.lockedSince;
    if (since === undefined) return { writable: false, error: `no commit within ${timeoutMs} ms` };
    const seconds = Math.round((Date.now() - since) / 1000);
    return {
      writable: false,
      locked: true,
      error: `locked by another process for ${seconds} s; writes are waiting`,
    };
  } catch (error) {
    return { writable: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export function registerServiceGauges(metrics: Metrics, service: ObservedService): void {
  metrics.gauge("tack_events_subscribers", "Open /events WebSocket subscribers.", [], (set) =>
    set({}, service.sockets.count("events")),
  );
  metrics.gauge(
    "tack_jetstream_connected",
    "1 while the Jetstream connection is open.",
    [],
    (set) => set({}, service.jetstream.connected ? 1 : 0),
  );
  metrics.gauge(
    "tack_jetstream_disconnected_seconds",
    "Seconds since the Jetstream connection was lost (0 while connected). Alert on this, not on lag: a quiet healthy spindle sees few events.",
    [],
    (set) => set({}, downSeconds(service.jetstream.state(), Date.now()) ?? 0),
  );
  metrics.gauge(
    "tack_jetstream_lag_seconds",
    "Seconds between now and the newest Jetstream event applied (absent before the first).",
    [],
    (set) => {
      const lag = jetstreamLag(service);
      if (lag !== null) set({}, lag);
    },
  );
  metrics.gauge("tack_knots_followed", "Knots whose /events stream tack follows.", [], (set) =>
    set({}, service.knots.status().length),
  );
  metrics.gauge("tack_knots_connected", "Followed knots with an open connection.", [], (set) =>
    set({}, service.knots.status().filter((knot) => knot.connected).length),
  );
  metrics.gauge(
    "tack_knot_disconnected_seconds",
    "Per followed knot, seconds since its /events connection was lost (0 while connected).",
    ["knot"],
    (set) => {
      const now = Date.now();
      for (const state of service.knotStreams.list())
        set({ knot: state.host }, downSeconds(state, now) ?? 0);
    },
  );
  metrics.gauge(
    "tack_database_locked_seconds",
    "Seconds another process has held the database's write lock (0 when it does not).",
    [],
    (set) => {
      const since = service.writer.lockedSince;
      set({}, since === undefined ? 0 : (Date.now() - since) / 1000);
    },
  );
  metrics.gauge("tack_workflows", "Workflows by their latest status.", ["status"], (set) => {
    for (const [status, count] of Object.entries(service.workflows.countByStatus())) {
      set({ status }, count);
    }
  });
}

const TERMINAL = new Set(["success", "failed", "timeout", "cancelled"]);

/**
 * Wraps the server's topic fan-out so each terminal workflow status also makes one log line
 * ("workflow: finished"), next to the "dispatch: workflow spawned" line of its start. It reads
 * the frames the broker already built, so it sees exactly what subscribers see, once.
 */
export function logFinishedWorkflows(publisher: TopicPublisher, log: Logger): TopicPublisher {
  const workflowLog = log.child({ component: "workflow" });
  return {
    publish(topic, data) {
      if (data.includes('"status":"') && data.includes('"nsid":"sh.tangled.pipeline.status"')) {
        try {
          const frame = JSON.parse(data) as { event?: Record<string, unknown> };
          const event = frame.event ?? {};
          if (typeof event.status === "string" && TERMINAL.has(event.status)) {
            const pipeline = /^at:\/\/did:web:([^/]+)\/[^/]+\/(.+)$/.exec(String(event.pipeline));
            const fields = {
              knot: pipeline?.[1],
              pipeline_rkey: pipeline?.[2],
              workflow: event.workflow,
              status: event.status,
              ...(event.error !== undefined ? { err: event.error } : {}),
              ...(event.exitCode !== undefined ? { exit_code: event.exitCode } : {}),
            };
            workflowLog.info("workflow: finished", fields);
          }
        } catch {
          // A frame we cannot read is the subscribers' concern, not a reason to drop it.
        }
      }
      return publisher.publish(topic, data);
    },
  };
}

function urlHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

function downSeconds(state: StreamState, now: number): number | null {
  if (state.connected || state.disconnectedSince === undefined) return null;
  return Math.round((now - state.disconnectedSince) / 100) / 10;
}

function describeDown(state: StreamState | undefined, seconds: number): string {
  const cause = state?.lastError ? ` (${state.lastError})` : "";
  const failures = state && state.failures > 0 ? `, ${state.failures} failed attempts` : "";
  return `disconnected for ${formatDuration(seconds)}${cause}${failures}`;
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function jetstreamLag(service: ObservedService): number | null {
  const last = service.jetstream.lastEventUs;
  return last > 0 ? Math.max(0, Date.now() / 1000 - last / 1_000_000) : null;
}

/**
 * The status page's pipelines: the newest across every repo, each with its workflows' latest
 * status (one indexed read per knot). A workflow the record names but tack never recorded
 * (its `when:` did not match, or it is still being dispatched) shows as "not run".
 */
export function recentPipelines(
  pipelines: Pipelines,
  workflows: Workflows,
  limit: number,
): StatusPipeline[] {
  const recent = pipelines.recent(limit);
  const byKnot = new Map<string, string[]>();
  for (const pipeline of recent) {
    byKnot.set(pipeline.knot, [...(byKnot.get(pipeline.knot) ?? []), pipeline.rkey]);
  }
  const statuses = new Map<string, ReturnType<Workflows["ofPipelines"]>>();
  for (const [knot, rkeys] of byKnot) statuses.set(knot, workflows.ofPipelines(knot, rkeys));
  return recent.map((pipeline) => {
    const recorded = statuses.get(pipeline.knot)?.get(pipeline.rkey) ?? new Map();
    const names = new Set([...recorded.keys(), ...pipeline.record.workflows.map((w) => w.name)]);
    return {
      rkey: pipeline.rkey,
      knot: pipeline.knot,
      repo: repoLabel(pipeline),
      kind: pipeline.kind,
      ref: refLabel(pipeline),
      commit: pipeline.commit,
      createdMs: Number(pipeline.created / 1_000_000n),
      workflows: [...names].map((name) => {
        const workflow = recorded.get(name);
        return workflow
          ? { name, status: workflow.status, error: workflow.error }
          : { name, status: "not run", error: null };
      }),
    };
  });
}

function repoLabel(pipeline: StoredPipeline): string {
  const repo = pipeline.record.triggerMetadata.repo;
  return repo.repo ? `${repo.did}/${repo.repo}` : (repo.repoDid ?? repo.did);
}

function refLabel(pipeline: StoredPipeline): string {
  const trigger = pipeline.record.triggerMetadata;
  if (trigger.push) return trigger.push.ref.replace(/^refs\/(heads|tags)\//, "");
  if (trigger.pullRequest)
    return `${trigger.pullRequest.sourceBranch} → ${trigger.pullRequest.targetBranch}`;
  return trigger.manual?.ref?.replace(/^refs\/(heads|tags)\//, "") ?? "";
}
