/**
 * Prometheus metrics (served on /metrics, in the text format of src/prometheus.ts). Each service
 * instance has its own Registry, so several instances (tests) never share counters.
 */
import { BINARY_SCHEMA_VERSION } from "./db/migrate.ts";
import { registerProcessMetrics } from "./process-metrics.ts";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.ts";
import { COMMIT, VERSION } from "./version.ts";

export type WebhookResult =
  | "accepted"
  | "duplicate"
  | "ignored"
  | "unauthorized"
  | "bad_request"
  | "too_large"
  | "busy"
  | "timeout"
  | "unconfigured"
  | "error";

export class Metrics {
  readonly registry = new Registry();

  private processRegistered = false;
  private lagSeconds = 0;

  constructor() {
    const build = {
      version: VERSION,
      commit: COMMIT,
      schema_version: String(BINARY_SCHEMA_VERSION),
    };
    new Gauge(
      {
        name: "tack_build_info",
        help: "Always 1; the labels say which build is running.",
        labelNames: ["version", "commit", "schema_version"],
        collect: (set) => set(build, 1),
      },
      this.registry,
    );
  }

  /**
   * The text of a scrape. process_* (CPU, resident memory, open file descriptors, start time)
   * and the runtime's heap and event-loop lag, as every Prometheus client exports them, are
   * registered at the first scrape; the lag is how long a task queued now waits for its turn.
   */
  async scrape(): Promise<string> {
    if (!this.processRegistered) {
      this.processRegistered = true;
      registerProcessMetrics(this.registry, () => this.lagSeconds);
    }
    const queued = performance.now();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.lagSeconds = (performance.now() - queued) / 1000;
    return this.registry.metrics();
  }

  readonly eventsPublished = new Counter(
    {
      name: "tack_events_published_total",
      help: "Events committed to the event log and published on /events.",
      labelNames: ["nsid"],
    },
    this.registry,
  );

  readonly webhooks = new Counter(
    {
      name: "tack_webhooks_total",
      help: "Webhook deliveries by provider and result.",
      labelNames: ["provider", "result"],
    },
    this.registry,
  );

  readonly providerApiRequests = new Counter(
    {
      name: "tack_provider_api_requests_total",
      help: "Requests to CI provider APIs by provider and outcome (ok, error: HTTP >= 400 or network).",
      labelNames: ["provider", "outcome"],
    },
    this.registry,
  );

  readonly providerApiDuration = new Histogram(
    {
      name: "tack_provider_api_request_duration_seconds",
      help: "Latency of CI provider API requests.",
      labelNames: ["provider"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    },
    this.registry,
  );

  readonly triggers = new Counter(
    {
      name: "tack_triggers_total",
      help: "Pipeline triggers from knots by outcome (accepted, duplicate, or the rejection reason).",
      labelNames: ["outcome"],
    },
    this.registry,
  );

  readonly pushes = new Counter(
    {
      name: "tack_pushes_total",
      help: "sh.tangled.git.refUpdate events from knots by outcome (accepted, duplicate, skip-ci, …).",
      labelNames: ["outcome"],
    },
    this.registry,
  );

  readonly ciCancelFailures = new Counter(
    {
      name: "tack_ci_cancel_failures_total",
      help: "Workflows cancelled on Tangled whose CI did not confirm stopping the build, by provider.",
      labelNames: ["provider"],
    },
    this.registry,
  );

  readonly workflowReadsAbandoned = new Counter(
    {
      name: "tack_workflow_reads_abandoned_total",
      help: "Pushes and pull requests that ran nothing because their workflow files could not be read from the knot (for ten minutes, or a final error).",
    },
    this.registry,
  );

  /**
   * Wraps `fetch` so every request a provider makes is counted and timed. Providers receive
   * this instead of the global fetch (tests substitute their own stand-in APIs by URL).
   */
  instrumentFetch(provider: string, fetchFn: typeof fetch = fetch): typeof fetch {
    const wrapped = async (input: string | URL | Request, init?: RequestInit) => {
      const stop = this.providerApiDuration.startTimer({ provider });
      try {
        const response = await fetchFn(input, init);
        this.providerApiRequests.inc({
          provider,
          outcome: response.status >= 400 ? "error" : "ok",
        });
        return response;
      } catch (error) {
        this.providerApiRequests.inc({ provider, outcome: "error" });
        throw error;
      } finally {
        stop();
      }
    };
    return Object.assign(wrapped, { preconnect: fetchFn.preconnect });
  }

  /**
   * A gauge whose value is read at scrape time. When `collect` sets nothing the gauge has no
   * sample in the scrape ("no value yet" must not read as 0, as in "no lag").
   */
  gauge(
    name: string,
    help: string,
    labelNames: string[],
    collect: (set: (labels: Record<string, string>, value: number) => void) => void,
  ): void {
    new Gauge({ name, help, labelNames, collect }, this.registry);
  }
}
