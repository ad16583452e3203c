/**
 * `tack check`: before the first push, tells the operator whether this configuration works.
 * Validates the environment, inspects the database (read-only: it never creates or migrates
 * it, so running it as root beside the service changes nothing), connects to Jetstream, and
 * asks every configured provider's API whether the credentials work and carry what tack
 * needs. Prints one table; exits 0 only if every row is OK. Secrets are never printed
 * (providers report scopes and names, not tokens).
 */
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { openDb } from "../db/client.ts";
import { BINARY_SCHEMA_VERSION, runMigrations, schemaState } from "../db/migrate.ts";
import { Writer } from "../db/writer.ts";
import { Broker } from "../eventlog/broker.ts";
import { EventStore } from "../eventlog/store.ts";
import { silentLogger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { Workflows } from "../pipeline/workflows.ts";
import { checkProviders } from "../providers/catalog.ts";
import { WebhookDeliveries } from "../providers/deliveries.ts";
import type { ProviderCheck } from "../providers/provider.ts";
import { SpawnAttempts } from "../providers/spawn-attempts.ts";
import { keepSidecarsOwned } from "./backup.ts";

/** A provider API that does not answer within this is reported as unreachable. */
const PROVIDER_CHECK_TIMEOUT_MS = 15_000;
/** Jetstream must accept the WebSocket within this. */
const JETSTREAM_CHECK_TIMEOUT_MS = 10_000;

export async function runCheck(
  env: Record<string, string | undefined>,
  out: (line: string) => void,
  options: { fetch?: typeof fetch; clock?: Clock } = {},
): Promise<number> {
  const rows: ProviderCheck[] = [];
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    rows.push({ name: "configuration", ok: false, detail: error.message });
    printTable(rows, out);
    return 2;
  }
  const { config, unknownVariables } = loaded;
  rows.push({
    name: "configuration",
    ok: true,
    detail: `hostname ${config.hostname}, owner ${config.ownerDid}, listen ${config.listen.hostname}:${config.listen.port}`,
  });
  for (const variable of unknownVariables) {
    rows.push({
      name: "configuration",
      ok: false,
      detail: `unknown variable ${variable} (a typo?)`,
    });
  }

  rows.push(inspectDatabase(config.dbPath));
  rows.push(await checkJetstream(config.jetstreamUrl));
  rows.push(await checkPlc(config.plcUrl, config.ownerDid, options.fetch));

  // Providers are built over a throw-away in-memory database: checking tokens needs their
  // clients, not the service's state.
  const database = openDb(":memory:");
  runMigrations(database.db);

  try {
    const writer = new Writer(database.db);
    const workflows = new Workflows(
      database.db,
      writer,
      new Broker(writer, new EventStore(database.db)),
    );
    rows.push(
      ...(await checkProviders(
        config.providers,
        {
          db: database.db,
          writer,
          workflows,
          log: silentLogger,
          clock: options.clock ?? systemClock,
          metrics: new Metrics(),
          deliveries: new WebhookDeliveries(database.db),
          attempts: new SpawnAttempts(database.db, writer),
          dev: config.dev,
          fetch: options.fetch,
        },
        PROVIDER_CHECK_TIMEOUT_MS,
      )),
    );
  } finally {
    database.close();
  }
  printTable(rows, out);
  return rows.every((row) => row.ok) ? 0 : 1;
}

/**
 * The PLC directory answers: it resolves the owner's DID when that is a did:plc (which also
 * proves the DID exists), else it answers its health check. tack resolves callers' keys and
 * pull request authors' PDSes through it.
 */
async function checkPlc(
  plcUrl: string,
  ownerDid: string,
  fetchFn: typeof fetch = fetch,
): Promise<ProviderCheck> {
  const name = "plc directory";
  const host = new URL(plcUrl).host;
  const asksOwner = ownerDid.startsWith("did:plc:");
  const url = asksOwner ? `${plcUrl}/${ownerDid}` : `${plcUrl}/_health`;
  let response: Response;
  try {
    response = await fetchFn(url, {
      redirect: "error",
      signal: AbortSignal.timeout(PROVIDER_CHECK_TIMEOUT_MS),
    });
    await response.body?.cancel();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { name, ok: false, detail: `cannot reach ${host} (TACK_PLC_URL): ${reason}` };
  }
  if (asksOwner && response.status === 404) {
    return {
      name,
      ok: false,
      detail: `${host} answers, but knows no ${ownerDid} (TACK_OWNER_DID)`,
    };
  }
  if (!response.ok) {
    return { name, ok: false, detail: `${host} answered ${response.status} (TACK_PLC_URL)` };
  }
  return {
    name,
    ok: true,
    detail: asksOwner ? `${host} resolves the owner ${ownerDid}` : `${host} answers`,
  };
}

/** Reads the database's schema version without creating, locking or migrating anything. */
function inspectDatabase(path: string): ProviderCheck {
  if (!existsSync(path)) {
    if (!existsSync(dirname(path))) {
      return {
        name: "database",
        ok: true,
        detail: `${path} does not exist yet, nor its directory: systemd's StateDirectory=tack creates it at the first start (without systemd, create it)`,
      };
    }
    try {
      accessSync(dirname(path), constants.W_OK);
    } catch {
      return {
        name: "database",
        ok: false,
        detail: `${path} does not exist and this user may not create it in ${dirname(path)}`,
      };
    }
    return {
      name: "database",
      ok: true,
      detail: `${path} does not exist yet; tack creates it at first start (schema version ${BINARY_SCHEMA_VERSION})`,
    };
  }
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true });
    db.run("PRAGMA busy_timeout = 2000");
    const quick = db.query("PRAGMA quick_check").get() as { quick_check: string } | null;
    if (quick?.quick_check !== "ok") {
      return { name: "database", ok: false, detail: `${path} is damaged: ${quick?.quick_check}` };
    }
    const state = schemaState(db);
    if (state.newer) {
      return {
        name: "database",
        ok: false,
        detail: `${path} has schema version ${state.version}, newer than this tack's ${BINARY_SCHEMA_VERSION} (a downgrade): tack would refuse to start`,
      };
    }
    const pending = state.pending.length;
    return {
      name: "database",
      ok: true,
      detail: `${path}: schema version ${state.version}${
        pending > 0
          ? `; ${pending} migration(s) to ${BINARY_SCHEMA_VERSION} run at the next start`
          : ""
      }`,
    };
  } catch (error) {
    return {
      name: "database",
      ok: false,
      detail: `cannot open database ${path}: ${message(error)}`,
    };
  } finally {
    db?.close();
    keepSidecarsOwned(path);
  }
}

/** Opens (and at once closes) the Jetstream subscription tack will use. */
async function checkJetstream(url: string): Promise<ProviderCheck> {
  const host = new URL(url).host;
  const target = new URL(url);
  target.searchParams.append("wantedCollections", "sh.tangled.repo");
  const outcome = await new Promise<string | undefined>((resolve) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(target.toString());
    } catch (error) {
      resolve(message(error));
      return;
    }
    const timer = setTimeout(() => {
      socket.close();
      resolve(`no answer within ${JETSTREAM_CHECK_TIMEOUT_MS / 1000} s`);
    }, JETSTREAM_CHECK_TIMEOUT_MS);
    let cause = "";
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      socket.close(1000);
      resolve(undefined);
    });
    socket.addEventListener("error", (event) => {
      cause = ("message" in event ? String(event.message) : "").replace(
        /^WebSocket connection to '[^']*' failed: /,
        "",
      );
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(timer);
      resolve(cause || `closed ${event.code}`);
    });
  });
  return outcome === undefined
    ? { name: "jetstream", ok: true, detail: `${host} accepted the subscription` }
    : {
        name: "jetstream",
        ok: false,
        detail: `cannot reach ${host}: ${outcome} (TACK_JETSTREAM_URL)`,
      };
}

function printTable(rows: ProviderCheck[], out: (line: string) => void): void {
  const width = Math.max(5, ...rows.map((row) => row.name.length));
  out(`${"CHECK".padEnd(width)}  STATUS  DETAIL`);
  for (const row of rows)
    out(`${row.name.padEnd(width)}  ${(row.ok ? "ok" : "FAIL").padEnd(6)}  ${row.detail}`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
