/**
 * The composition root: builds every component from a Config, starts the HTTP server and the
 * background work, and knows the one safe order to stop them. main.ts calls it for the real
 * service; integration tests call it with port 0 and a temporary database.
 */
import { type App, createApp } from "./app.ts";
import { IdentityResolver } from "./atproto/identity.ts";
import { ServiceAuth, serviceDid } from "./atproto/service-auth.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Config } from "./config.ts";
import { type OpenDb, openDb } from "./db/client.ts";
import { acquireInstanceLock } from "./db/instance-lock.ts";
import { runMigrations } from "./db/migrate.ts";
import { Writer } from "./db/writer.ts";
import { Broker } from "./eventlog/broker.ts";
import { Retention } from "./eventlog/retention.ts";
import { EventStore } from "./eventlog/store.ts";
import type { WebhookBodyLimits } from "./http/body-limits.ts";
import type { EventsOptions } from "./http/events.ts";
import { LogStreamSlots } from "./http/log-stream.ts";
import { OpenSockets } from "./http/sockets.ts";
import { createStatusPage } from "./http/status-page.ts";
import { nodeDns } from "./lazy-node.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { PublicHosts } from "./net/public-hosts.ts";
import {
  createHealthCheck,
  type HealthOptions,
  logFinishedWorkflows,
  recentPipelines,
  registerServiceGauges,
} from "./observe.ts";
import { PipelineCancel } from "./pipeline/cancel.ts";
import { TriggerEventRunner } from "./pipeline/event-runner.ts";
import { KnotPipelineIntake } from "./pipeline/knot-intake.ts";
import { ManualRuns } from "./pipeline/manual-runs.ts";
import { Pipelines } from "./pipeline/pipelines.ts";
import { PullIntake } from "./pipeline/pull-intake.ts";
import { PushIntake } from "./pipeline/push-intake.ts";
import { PipelineRunner } from "./pipeline/runner.ts";
import { TriggerEvents } from "./pipeline/trigger-events.ts";
import { Workflows } from "./pipeline/workflows.ts";
import { configuredProviders } from "./providers/catalog.ts";
import { WebhookDeliveries } from "./providers/deliveries.ts";
import type { Provider } from "./providers/provider.ts";
import { ProviderRegistry } from "./providers/registry.ts";
import { SpawnAttempts } from "./providers/spawn-attempts.ts";
import { SecretsDelivery } from "./secrets/delivery.ts";
import { SecretsKey } from "./secrets/key.ts";
import { Secrets } from "./secrets/store.ts";
import { SecretTokens } from "./secrets/tokens.ts";
import { StartupError } from "./startup-error.ts";
import { collaboratorUpdateHandler } from "./tangled/collaborator-updates.ts";
import { Cursors } from "./tangled/cursors.ts";
import { JETSTREAM_CURSOR, JetstreamConsumer } from "./tangled/jetstream.ts";
import { KnotXrpc } from "./tangled/knot-xrpc.ts";
import { type KnotEventHandler, KnotStreams } from "./tangled/knots.ts";
import { NSID_COLLABORATOR_UPDATE, NSID_PIPELINE, NSID_REF_UPDATE } from "./tangled/lexicons.ts";
import { Membership } from "./tangled/membership.ts";
import { WorkflowFiles } from "./tangled/workflow-files.ts";
import { StreamBoard, type StreamOptions } from "./tangled/ws-client.ts";

export interface Tack {
  app: App;
  /** The port actually bound (useful with port 0). */
  port: number;
  database: OpenDb;
  broker: Broker;
  workflows: Workflows;
  providers: ProviderRegistry;
  sockets: OpenSockets;
  metrics: Metrics;
  membership: Membership;
  pipelines: Pipelines;
  runner: PipelineRunner;
  intake: KnotPipelineIntake;
  pushes: PushIntake;
  pulls: PullIntake;
  identities: IdentityResolver;
  secrets: Secrets;
  secretsDelivery: SecretsDelivery;
  eventRunner: TriggerEventRunner;
  jetstream: JetstreamConsumer;
  knots: KnotStreams;
  retention: Retention;
  /** Graceful stop; idempotent. */
  stop(): Promise<void>;
}

export interface TackOverrides {
  clock?: Clock;
  events?: Partial<EventsOptions>;
  /** How long in-flight HTTP requests get to finish at shutdown. */
  shutdownGraceMs?: number;
  /** How long stop() waits for dispatches, then providers, to let go (each; default 2 s). */
  stopStepMs?: number;
  /** Reconnect and idle-watchdog timing of the Jetstream and knot consumers. */
  streams?: Partial<Pick<StreamOptions, "minBackoffMs" | "maxBackoffMs" | "idleTimeoutMs">>;
  /** Extra providers beside the built-in ones (tests use this to stand in a failing CI). */
  providers?: (deps: { workflows: Workflows; log: Logger }) => Provider[];
  /** The fetch providers use for CI APIs (tests may record requests through it). */
  fetch?: typeof fetch;
  /** The fetch used towards knots' XRPC (tests may record requests through it). */
  knotFetch?: typeof fetch;
  /** The fetch used towards the PLC directory, did:web hosts and users' PDSes. */
  atprotoFetch?: typeof fetch;
  /** Longest wait at start for Jetstream to replay before the knots are followed. */
  jetstreamCatchUpMs?: number;
  /** How long a quiet Jetstream connection means its replay is over (default 1 s). */
  jetstreamQuietMs?: number;
  /** Delay before the first retention pass (the pass then repeats hourly). */
  retentionFirstDelayMs?: number;
  /** Caps on in-flight webhook bodies (tests use small ones). */
  webhookBodies?: Partial<WebhookBodyLimits>;
  /** When /healthz calls a lost upstream connection a problem, and how long its probe waits. */
  health?: Partial<HealthOptions>;
  /** Which hosts strangers may name (fork knots, did:web hosts); tests apply the rule in dev. */
  publicHosts?: PublicHosts;
}

export async function startTack(
  config: Config,
  log: Logger,
  overrides: TackOverrides = {},
): Promise<Tack> {
  // One instance per database (and, below, per port): a second one refuses to start.
  const lock = acquireInstanceLock(
    config.dbPath,
    `serving on ${config.listen.hostname}:${config.listen.port}`,
  );
  let database: OpenDb;
  let schemaVersion: number;
  try {
    database = openDb(config.dbPath);
    try {
      schemaVersion = runMigrations(database.db, log, config.dbPath).version;
    } catch (error) {
      database.close();
      throw error;
    }
  } catch (error) {
    lock.release();
    throw error;
  }
  database.limitBusyWait();
  const writer = new Writer(
    database.db,
    (error) => log.error("db: after-commit callback failed", { err: error }),
    log,
  );
  const store = new EventStore(database.db, Pipelines.highWater(database.db));
  const broker = new Broker(writer, store);
  const clock = overrides.clock ?? systemClock;
  const metrics = new Metrics();
  const deliveries = new WebhookDeliveries(database.db);
  const attempts = new SpawnAttempts(database.db, writer);
  broker.onPublish = (nsid) => metrics.eventsPublished.inc({ nsid });
  const workflows = new Workflows(database.db, writer, broker, clock);
  const providers = new ProviderRegistry([
    ...(await configuredProviders(config.providers, {
      db: database.db,
      writer,
      workflows,
      log,
      clock,
      metrics,
      deliveries,
      attempts,
      dev: config.dev,
      fetch: overrides.fetch,
    })),
    ...(overrides.providers?.({ workflows, log }) ?? []),
  ]);
  const sockets = new OpenSockets();
  const cursors = new Cursors(database.db);
  const membership = new Membership(database.db, {
    ownerDid: config.ownerDid,
    hostname: config.hostname,
  });
  const secrets = new Secrets(
    database.db,
    writer,
    new SecretsKey({ configured: config.secretsKey, file: `${config.dbPath}.secrets-key` }),
  );
  const secretTokens = new SecretTokens(database.db, writer);
  const secretsDelivery = new SecretsDelivery({
    tokens: secretTokens,
    clock,
    url: `${config.dev ? "http" : "https"}://${config.hostname}/secrets`,
  });
  const pipelines = new Pipelines(database.db, writer, broker);
  const runner = new PipelineRunner({
    pipelines,
    workflows,
    providers,
    log,
    buildVariables: (workflow) => secretsDelivery.variablesFor(workflow),
  });
  const workflowFiles = new WorkflowFiles(
    new KnotXrpc({ dev: config.dev, fetch: overrides.knotFetch }),
  );
  const triggerEvents = new TriggerEvents(database.db);
  const eventRunner = new TriggerEventRunner({
    writer,
    events: triggerEvents,
    pipelines,
    runner,
    membership,
    workflowFiles,
    clock,
    log,
    onGiveUp: () => metrics.workflowReadsAbandoned.inc(),
  });
  const intake = new KnotPipelineIntake({
    writer,
    events: triggerEvents,
    clock,
    pipelines,
    runner,
    membership,
    log,
    onOutcome: (outcome) => metrics.triggers.inc({ outcome }),
  });
  const pushes = new PushIntake({
    writer,
    events: triggerEvents,
    eventRunner,
    membership,
    clock,
    log,
    onOutcome: (outcome) => metrics.pushes.inc({ outcome }),
  });
  const publicHosts =
    overrides.publicHosts ??
    new PublicHosts({
      dev: config.dev,
      lookup: (name) => nodeDns().lookup(name, { all: true }),
    });
  const identities = new IdentityResolver({
    plcUrl: config.plcUrl,
    dev: config.dev,
    hosts: publicHosts,
    fetch: overrides.atprotoFetch,
    now: () => clock.now(),
  });
  const pulls = new PullIntake({
    db: database.db,
    writer,
    events: triggerEvents,
    eventRunner,
    membership,
    identities,
    clock,
    log,
    fetch: overrides.atprotoFetch,
  });
  let knotsReady = false;
  const knotStreams = new StreamBoard();
  const knots = new KnotStreams({
    dev: config.dev,
    writer,
    cursors,
    handlers: new Map<string, KnotEventHandler>([
      [NSID_PIPELINE, (knot, rkey, event) => intake.accept(knot, rkey, event)],
      [NSID_REF_UPDATE, (knot, rkey, event) => pushes.accept(knot, rkey, event)],
      [NSID_COLLABORATOR_UPDATE, collaboratorUpdateHandler({ writer, membership, log })],
    ]),
    log,
    stream: { ...overrides.streams, board: knotStreams },
  });
  const jetstream = new JetstreamConsumer({
    url: config.jetstreamUrl,
    writer,
    cursors,
    membership,
    log,
    // Until the start-up catch-up below is over, knots are synced once afterwards instead.
    onKnotsChanged: (followed) => knotsReady && knots.sync(followed),
    records: {
      collections: PullIntake.collections,
      applyInTx: (tx, onCommit, event) => pulls.applyInTx(tx, onCommit, event),
    },
    stream: overrides.streams,
  });

  const retention = new Retention({
    writer,
    retentionMs: config.eventsRetentionMs,
    clock,
    log,
    // Pipelines, then the finished workflows they no longer hold, then events: one pass lets
    // an old run go entirely.
    prunables: [
      {
        name: "pipelines",
        prune: (tx, cutoffMs, limit) => pipelines.pruneBefore(tx, cutoffMs, limit),
      },
      {
        name: "workflows",
        prune: (tx, cutoffMs, limit) => workflows.pruneBefore(tx, cutoffMs, limit),
      },
      {
        name: "events",
        prune: (tx, cutoffMs, limit) => store.pruneBefore(tx, BigInt(cutoffMs) * 1_000_000n, limit),
      },
      {
        name: "secret_tokens",
        prune: (tx, cutoffMs, limit) => secretTokens.pruneBefore(tx, cutoffMs, limit),
      },
      {
        name: "trigger_events",
        prune: (tx, cutoffMs, limit) => triggerEvents.pruneBefore(tx, cutoffMs, limit),
      },
      {
        name: "webhook_deliveries",
        prune: (tx, cutoffMs, limit) => deliveries.pruneBefore(tx, cutoffMs, limit),
      },
      {
        name: "spawn_attempts",
        prune: (tx, cutoffMs, limit) => attempts.pruneBefore(tx, cutoffMs, limit),
      },
      ...providers.all().flatMap((provider) => {
        const prune = provider.prune?.bind(provider);
        return prune ? [{ name: `${provider.name}_builds`, prune }] : [];
      }),
    ],
  });
  let stopping: Promise<void> | undefined;
  const observed = {
    writer,
    jetstream,
    knots,
    knotStreams,
    providers,
    workflows,
    sockets,
    stopping: () => stopping !== undefined,
  };
  registerServiceGauges(metrics, observed);
  const health = createHealthCheck(observed, { schemaVersion, ...overrides.health });
  const statusPage = createStatusPage({
    hostname: config.hostname,
    health,
    knots: () => knots.status(),
    recentPipelines: (limit) => recentPipelines(pipelines, workflows, limit),
  });

  let app: App;
  try {
    app = createApp({
      db: database.db,
      ownerDid: config.ownerDid,
      store,
      lastBroadcastAt: () => broker.lastBroadcastAt,
      lastBroadcastCreated: () => broker.lastBroadcastCreated,
      workflows,
      pipelines,
      membership,
      identities,
      publicHosts,
      workflowFiles,
      providers,
      sockets,
      logSlots: new LogStreamSlots(),
      auth: new ServiceAuth({
        audience: serviceDid(config.hostname),
        identities,
        now: () => clock.now(),
      }),
      runs: new ManualRuns({
        pipelines,
        runner,
        membership,
        workflowFiles,
        identities,
        publicHosts,
        log,
      }),
      cancel: new PipelineCancel({
        workflows,
        providers,
        log,
        onCiFailure: (provider) => metrics.ciCancelFailures.inc({ provider }),
      }),
      secrets,
      secretTokens,
      clock,
      log,
      metrics,
      health,
      statusPage,
      events: {
        ...(config.eventsBufferCapBytes ? { bufferCapBytes: config.eventsBufferCapBytes } : {}),
        ...overrides.events,
      },
      webhookBodies: overrides.webhookBodies,
    }).listen({ hostname: config.listen.hostname, port: config.listen.port, reusePort: false });
  } catch (error) {
    // Most often the port is taken (another tack, or another service); reusePort is off so
    // the kernel refuses instead of splitting requests between two processes.
    database.close();
    lock.release();
    const where = `${config.listen.hostname}:${config.listen.port}`;
    const inUse = error instanceof Error && "code" in error && error.code === "EADDRINUSE";
    throw new StartupError(
      inUse
        ? `cannot listen on ${where}: address already in use (another tack or another service is listening there)`
        : `cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const server = app.server;
  if (!server) throw new Error("http: server did not start");
  broker.attach(logFinishedWorkflows(server, log));
  log.info("tack: listening", {
    addr: `${config.listen.hostname}:${server.port}`,
    port: server.port,
    hostname: config.hostname,
    owner: config.ownerDid,
    db: config.dbPath,
  });

  // Finish what a previous process left half done, in the background: it may wait on a CI,
  // and the HTTP side (health, /events, webhooks) must not wait with it. A turn of the event
  // loop before each step, so a request that arrives meanwhile waits for one step's reads at
  // most, not for all of them (each recovery tolerates work live requests started first).
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  await turn();
  runner.recover();
  await turn();
  eventRunner.recover();
  await turn();
  pulls.recover();
  for (const provider of providers.all()) {
    await turn();
    const unfinished = workflows.unfinished(provider.name).filter((workflow) => workflow.spawned);
    if (unfinished.length === 0) continue;
    log.info("tack: resuming unfinished workflows", {
      provider: provider.name,
      count: unfinished.length,
    });
    await provider.resume(unfinished);
  }
  await turn();
  jetstream.start();
  // After a restart, let Jetstream replay what changed while tack was down (members, repos)
  // before the knots' backlogs are checked against it; bounded, so a slow Jetstream only
  // delays following the knots.
  if (cursors.get(JETSTREAM_CURSOR) !== undefined) {
    const caughtUp = await jetstream.caughtUp(
      overrides.jetstreamCatchUpMs ?? 5_000,
      overrides.jetstreamQuietMs,
    );
    if (!caughtUp) log.warn("tack: Jetstream still replaying; following knots anyway");
  }
  await turn();
  knotsReady = true;
  knots.sync(membership.followedKnots());
  retention.start(overrides.retentionFirstDelayMs);

  const stop = () => {
    stopping ??= (async () => {
      // Every step is bounded, so the whole stop stays inside main.ts's hard limit (10 s) and
      // systemd's TimeoutStopSec: what does not finish in time is recovered at the next start.
      // 1. Stop accepting; let in-flight HTTP requests (webhooks) finish within the grace.
      void server.stop(false);
      const deadline = Date.now() + (overrides.shutdownGraceMs ?? 3_000);
      while (server.pendingRequests > 0 && Date.now() < deadline) await Bun.sleep(20);
      // 2. Stop taking upstream work, then background work; what it committed is durable.
      await within(
        Promise.all([
          jetstream.stop(),
          knots.stop(),
          retention.stop(),
          eventRunner.stop(),
          pulls.stop(),
        ]),
        1_000,
      );
      // A dispatch still waiting on a CI after this leaves its pipeline undispatched; the next
      // start finishes it (runner.recover). Providers stop after, so none is failed by it.
      const step = overrides.stopStepMs ?? 2_000;
      await within(runner.stop(), step);
      await within(Promise.all(providers.all().map((provider) => provider.stop())), step);
      // 3. Close WebSockets with 1001 so clients reconnect (with their cursor) later.
      sockets.closeAll(1001, "server shutting down");
      await app.stop(true);
      // 4. Commit anything still queued, checkpoint the WAL, close the database.
      writer.flush();
      database.close();
      lock.release();
      log.info("tack: stopped");
    })();
    return stopping;
  };

  return {
    app,
    port: server.port ?? config.listen.port,
    database,
    broker,
    workflows,
    providers,
    sockets,
    metrics,
    membership,
    pipelines,
    runner,
    intake,
    pushes,
    pulls,
    identities,
    secrets,
    secretsDelivery,
    eventRunner,
    jetstream,
    knots,
    retention,
    stop,
  };
}

/** Waits for `work`, but no longer than `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
