/**
 * `tack check`: before the first push, tells the operator whether this configuration works.
 * Validates the environment, opens and migrates the database, and asks every configured
 * provider's API whether the credentials work and carry what tack needs. Prints one table;
 * exits 0 only if every row is OK. Secrets are never printed (providers report scopes and
 * names, not tokens).
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { openDb } from "../db/client.ts";
import { runMigrations } from "../db/migrate.ts";
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

/** A provider API that does not answer within this is reported as unreachable. */
const PROVIDER_CHECK_TIMEOUT_MS = 15_000;

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

  let database: ReturnType<typeof openDb>;
  try {
    database = openDb(config.dbPath);
    runMigrations(database.db);
    rows.push({ name: "database", ok: true, detail: `${config.dbPath} opened and migrated` });
  } catch (error) {
    rows.push({ name: "database", ok: false, detail: `${config.dbPath}: ${message(error)}` });
    printTable(rows, out);
    return 1;
  }

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

function printTable(rows: ProviderCheck[], out: (line: string) => void): void {
  const width = Math.max(5, ...rows.map((row) => row.name.length));
  out(`${"CHECK".padEnd(width)}  STATUS  DETAIL`);
  for (const row of rows)
    out(`${row.name.padEnd(width)}  ${(row.ok ? "ok" : "FAIL").padEnd(6)}  ${row.detail}`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
