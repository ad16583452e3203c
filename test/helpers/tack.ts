/**
 * Starts the real service (src/tack.ts) on 127.0.0.1:0 with a database in a fresh temporary
 * directory, on a compressed clock (waits take no real time; tests that need the real one pass
 * `overrides.clock`). `await using` stops it and removes the directory.
 */
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../../src/config.ts";
import { openDb } from "../../src/db/client.ts";
import { runMigrations } from "../../src/db/migrate.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { startTack, type Tack, type TackOverrides } from "../../src/tack.ts";
import { compressedClock } from "./clock.ts";
import { tempDir } from "./temp.ts";

export { tempDir };

export interface TestTack extends AsyncDisposable {
  tack: Tack;
  http: string;
  ws: string;
  dir: string;
  config: Config;
  /** Log lines the service wrote, parsed. */
  logs: Record<string, unknown>[];
}

export function testConfig(dir: string, overrides: Partial<Config> = {}): Config {
  return {
    hostname: "spindle.test",
    ownerDid: "did:plc:owner000000000000000000",
    listen: { hostname: "127.0.0.1", port: 0 },
    dbPath: join(dir, "tack.db"),
    jetstreamUrl: "ws://127.0.0.1:1/subscribe",
    plcUrl: "http://127.0.0.1:1",
    dev: true,
    logLevel: "debug",
    eventsRetentionMs: 30 * 86_400_000,
    ...overrides,
    providers: { fake: {}, ...overrides.providers },
  };
}

export function captureLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("debug", (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { log, lines };
}

/**
 * A database already at this binary's schema, made once per test process and copied into each
 * fresh directory: most tests are not about migrating, and migrating costs more than starting.
 * (test/db/schema-version.test.ts is about it, and asks for an empty database.)
 */
let migrated: string | undefined;
function migratedDatabase(): string {
  if (migrated === undefined) {
    const path = join(tempDir(), "tack.db");
    const database = openDb(path);
    runMigrations(database.db);
    database.close();
    migrated = path;
  }
  return migrated;
}

export async function startTestTack(
  options: {
    dir?: string;
    config?: Partial<Config>;
    overrides?: TackOverrides;
    /** Start on an empty database (migrating it) rather than on a migrated copy. */
    emptyDatabase?: boolean;
  } = {},
): Promise<TestTack> {
  const dir = options.dir ?? tempDir();
  if (!options.dir && !options.emptyDatabase)
    copyFileSync(migratedDatabase(), join(dir, "tack.db"));
  const config = testConfig(dir, options.config);
  const { log, lines } = captureLogger();
  const tack = await startTack(config, log, { clock: compressedClock(), ...options.overrides });
  const host = `127.0.0.1:${tack.port}`;
  return {
    tack,
    http: `http://${host}`,
    ws: `ws://${host}`,
    dir,
    config,
    logs: lines,
    async [Symbol.asyncDispose]() {
      await tack.stop();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
