/**
 * Entry point of the `tack` binary: parse the command line, read the environment once, run.
 * Exit codes: 0 after a graceful stop, 2 for a usage or configuration error, 1 when the service
 * cannot start; each failure to start is one line on stderr naming the problem and where
 * (`tack: cannot open database /var/lib/tack/tack.db: …`).
 */
import { parseArgs, USAGE } from "./cli.ts";
import { runBackup } from "./commands/backup.ts";
import { runCheck } from "./commands/check.ts";
import { runRestore } from "./commands/restore.ts";
import { ConfigError, loadConfig, loadDbPath } from "./config.ts";
import { BINARY_SCHEMA_VERSION } from "./db/migrate.ts";
import { createLogger, stdoutIsJournal } from "./log.ts";
import { StartupError } from "./startup-error.ts";
import { startTack } from "./tack.ts";
import { COMMIT, VERSION } from "./version.ts";

/** Hard stop if a graceful shutdown hangs; below systemd's TimeoutStopSec in deploy/. */
const SHUTDOWN_HARD_LIMIT_MS = 10_000;

async function main(): Promise<number> {
  const command = parseArgs(process.argv.slice(2));
  if (command.kind === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command.kind === "version") {
    process.stdout.write(`tack ${VERSION} (${COMMIT}) schema ${BINARY_SCHEMA_VERSION}\n`);
    return 0;
  }
  if (command.kind === "check") {
    return runCheck(Bun.env, (line) => process.stdout.write(`${line}\n`));
  }
  if (command.kind === "backup") {
    return runBackup(loadDbPath(Bun.env), command.target, (line) =>
      process.stdout.write(`${line}\n`),
    );
  }
  if (command.kind === "restore") {
    return runRestore(loadDbPath(Bun.env), command.backup, (line) =>
      process.stdout.write(`${line}\n`),
    );
  }
  if (command.kind === "usage-error") {
    process.stderr.write(`tack: ${command.message} (see tack --help)\n`);
    return 2;
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(Bun.env, { addr: command.addr });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tack: ${error.message}\n`);
    return 2;
  }
  const { config, unknownVariables } = loaded;
  const log = createLogger(config.logLevel, undefined, undefined, {
    journald: stdoutIsJournal(Bun.env.JOURNAL_STREAM),
  });
  for (const variable of unknownVariables) {
    log.warn("config: unknown variable ignored", { variable });
  }
  // A bug that escapes its handler is logged where operators look (one JSON line, at error)
  // instead of a bare stack on stderr; tack keeps serving, since its state is on disk and
  // every request stands alone (docs/design.md, *Errors nobody caught*).
  process.on("uncaughtException", (error) => log.error("tack: uncaught exception", { err: error }));
  process.on("unhandledRejection", (reason) =>
    log.error("tack: unhandled rejection", { err: reason }),
  );
  log.info("tack: starting", { version: VERSION, commit: COMMIT });

  // Signals are taken from here on: one that arrives while tack is still starting stops it
  // as soon as it is up, instead of killing it half-way.
  const signalled = Promise.withResolvers<string>();
  process.once("SIGTERM", () => signalled.resolve("SIGTERM"));
  process.once("SIGINT", () => signalled.resolve("SIGINT"));

  let tack: Awaited<ReturnType<typeof startTack>>;
  try {
    tack = await startTack(config, log);
  } catch (error) {
    // One line, as for configuration errors: what failed and where. An error that is not a
    // StartupError is a bug; it gets the same one line, and its stack in the log.
    if (!(error instanceof StartupError))
      log.error("tack: cannot start", {
        err: error,
        stack: error instanceof Error ? error.stack : undefined,
      });
    const text = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `tack: ${error instanceof StartupError ? text : `cannot start: ${text}`}\n`,
    );
    return 1;
  }

  const signal = await signalled.promise;
  log.info("tack: shutting down", { signal });
  setTimeout(() => {
    log.error("tack: graceful shutdown timed out");
    process.exit(1);
  }, SHUTDOWN_HARD_LIMIT_MS).unref();
  try {
    await tack.stop();
    return 0;
  } catch (error) {
    log.error("tack: shutdown failed", { err: error });
    return 1;
  }
}

process.exit(await main());
