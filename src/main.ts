/**
 * Entry point of the `tack` binary: parse the command line, read the environment once, run.
 * Exit codes: 0 after a graceful stop, 2 for a usage or configuration error (one line on
 * stderr naming the problem), 1 when the service cannot start.
 */
import { parseArgs, USAGE } from "./cli.ts";
import { runBackup } from "./commands/backup.ts";
import { runCheck } from "./commands/check.ts";
import { ConfigError, loadConfig, loadDbPath } from "./config.ts";
import { createLogger } from "./log.ts";
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
    process.stdout.write(`tack ${VERSION} (${COMMIT})\n`);
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
  const log = createLogger(config.logLevel);
  for (const variable of unknownVariables) {
    log.warn("config: unknown variable ignored", { variable });
  }
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
    log.error("tack: cannot start", { err: error });
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
