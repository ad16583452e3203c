/**
 * Command line: `tack` (serve), `tack version`, `tack --help`. `-addr`/`--addr` overrides
 * TACK_LISTEN_ADDR, as in the Go tack (`go run . -addr :8080`).
 */
export type Command =
  | { kind: "serve"; addr?: string }
  | { kind: "check" }
  | { kind: "backup"; target?: string }
  | { kind: "restore"; backup?: string }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "usage-error"; message: string };

import { CATALOG } from "./providers/catalog.ts";
import type { ProviderDescriptor } from "./providers/provider.ts";

/** The help text; provider lines come from `catalog`. */
export function usage(catalog: readonly ProviderDescriptor[] = CATALOG): string {
  return `tack: a Tangled spindle that stitches any CI into Tangled

Usage:
  tack [-addr host:port]   run the spindle (configuration from TACK_* variables)
  tack check               check the configuration, the database and each CI's credentials
  tack backup <file>       write a consistent copy of the database (safe while running)
  tack restore <file>      put a backup back at TACK_DB_PATH (tack must be stopped)
  tack version             print the version and commit
  tack --help              print this help

Environment:
  TACK_HOSTNAME       required  this spindle's public hostname, as repos name it
  TACK_OWNER_DID      required  the operator's DID (did:plc:… or did:web:…)
  TACK_LISTEN_ADDR    :8080     [host]:port to listen on (-addr overrides it)
  TACK_DB_PATH        tack.db   SQLite database path
  TACK_JETSTREAM_URL  public    Jetstream subscribe URL
  TACK_PLC_URL        plc.directory  PLC directory resolving did:plc identities
  TACK_SECRETS_KEY    key file  32 bytes (base64/hex) sealing repo secrets at rest
  TACK_DEV            false     dev mode: ws:// and http:// towards knots
  TACK_LOG_LEVEL      info      debug, info, warn or error
  TACK_EVENTS_RETENTION 30d     prune events older than this (e.g. 72h; 0 keeps all)
  TACK_EVENTS_BUFFER_CAP 64MiB  memory all /events subscribers' unsent frames may take
${catalog.map(providerLine).join("")}
Providers (a workflow names one under \`tack:\`):
${catalog.map(providerKey).join("")}`;
}

export const USAGE = usage();

/** "  TACK_BUILDKITE_*    -         Buildkite: TOKEN, ORG, … (docs/buildkite.md)". */
function providerLine(descriptor: ProviderDescriptor): string {
  const names = Object.keys(descriptor.env);
  if (names.length === 0) return "";
  const prefix = commonPrefix(names);
  const rest = names.map((name) => name.slice(prefix.length)).join(", ");
  return `  ${`${prefix}*`.padEnd(20)}-         ${descriptor.title}: ${rest} (${descriptor.docs})\n`;
}

/** "  buildkite    Buildkite, on with TACK_BUILDKITE_TOKEN (docs/buildkite.md)". */
function providerKey(descriptor: ProviderDescriptor): string {
  const on = descriptor.enabledBy ? `on with ${descriptor.enabledBy}` : "always on";
  return `  ${descriptor.name.padEnd(12)} ${descriptor.title}, ${on} (${descriptor.docs})\n`;
}

function commonPrefix(names: string[]): string {
  let prefix = names[0] ?? "";
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf("_") + 1);
}

export function parseArgs(argv: string[]): Command {
  if (argv[0] === "check") {
    return argv.length === 1
      ? { kind: "check" }
      : { kind: "usage-error", message: "check takes no arguments" };
  }
  if (argv[0] === "backup") {
    if (argv.length > 2) return { kind: "usage-error", message: "backup takes one file name" };
    return { kind: "backup", target: argv[1] };
  }
  if (argv[0] === "restore") {
    if (argv.length > 2) return { kind: "usage-error", message: "restore takes one file name" };
    return { kind: "restore", backup: argv[1] };
  }
  let addr: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "-h" || arg === "--help" || arg === "-help" || arg === "help")
      return { kind: "help" };
    if (arg === "version" || arg === "--version" || arg === "-version") return { kind: "version" };
    const flag = /^--?addr(?:=(.*))?$/.exec(arg);
    if (flag) {
      addr = flag[1] ?? argv[++i];
      if (addr === undefined)
        return { kind: "usage-error", message: `${arg} needs a value, e.g. -addr :8080` };
      continue;
    }
    return { kind: "usage-error", message: `unknown argument ${JSON.stringify(arg)}` };
  }
  return { kind: "serve", addr };
}
