/**
 * Reads the TACK_* environment exactly once, validates it with one TypeBox schema, and hands a
 * typed Config to the composition root. Names and defaults match the Go tack, so an operator
 * swaps the binary and keeps the EnvironmentFile. An empty variable counts as unset.
 *
 * A bad or missing variable becomes a ConfigError whose message names the variable and says
 * what is expected; the value itself is echoed only for variables that are not secrets.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { LogLevel } from "./log.ts";

const HOSTNAME = "^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$";
const DID = "^did:[a-z]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-]$";
const LISTEN_ADDR = "^(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$";
const BOOLEAN = "^(?:1|0|true|false|yes|no|on|off)$";

const Env = Type.Object({
  TACK_HOSTNAME: Type.String({
    pattern: HOSTNAME,
    description: "this spindle's public hostname as repos name it, e.g. spindle.example.com",
  }),
  TACK_OWNER_DID: Type.String({
    pattern: DID,
    description: "the operator's DID, e.g. did:plc:7iza6de2dwap2sbkpav7c6c6",
  }),
  TACK_LISTEN_ADDR: Type.String({
    default: ":8080",
    pattern: LISTEN_ADDR,
    description: "[host]:port to listen on, e.g. :8080, 127.0.0.1:8080 or [::1]:8080",
  }),
  TACK_DB_PATH: Type.String({ default: "tack.db", description: "path of the SQLite database" }),
  TACK_JETSTREAM_URL: Type.String({
    default: "wss://jetstream1.us-west.bsky.network/subscribe",
    pattern: "^wss?://[^\\s]+$",
    description: "a ws:// or wss:// Jetstream subscribe URL",
  }),
  TACK_DEV: Type.String({
    default: "false",
    pattern: BOOLEAN,
    description: "true or false (dev mode: ws:// and http:// to knots)",
  }),
  TACK_LOG_LEVEL: Type.Union(
    [Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")],
    { default: "info", description: "one of debug, info, warn, error" },
  ),
});
type Env = Static<typeof Env>;

/** Variables whose values must never be echoed back (filled in as providers add tokens). */
const SECRET_VARIABLES = new Set<string>();

export interface ListenAddress {
  hostname: string;
  port: number;
}

export interface Config {
  hostname: string;
  ownerDid: string;
  listen: ListenAddress;
  dbPath: string;
  jetstreamUrl: string;
  dev: boolean;
  logLevel: LogLevel;
}

export class ConfigError extends Error {}

export interface LoadedConfig {
  config: Config;
  /** TACK_* variables tack does not know: almost always a typo worth a warning. */
  unknownVariables: string[];
}

/** `overrides.addr` is the -addr/--addr flag, which wins over TACK_LISTEN_ADDR. */
export function loadConfig(
  env: Record<string, string | undefined>,
  overrides: { addr?: string } = {},
): LoadedConfig {
  const known = Object.keys(Env.properties);
  const raw: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  if (overrides.addr !== undefined) raw.TACK_LISTEN_ADDR = overrides.addr;
  const withDefaults = Value.Default(Env, raw);
  const error = firstError(withDefaults);
  if (error) throw new ConfigError(error);
  const parsed = withDefaults as Env;

  const listen = parseListenAddress(parsed.TACK_LISTEN_ADDR);
  if (!listen) {
    throw new ConfigError(
      `TACK_LISTEN_ADDR: invalid value ${JSON.stringify(parsed.TACK_LISTEN_ADDR)}: the port must be 0-65535`,
    );
  }
  return {
    config: {
      hostname: parsed.TACK_HOSTNAME,
      ownerDid: parsed.TACK_OWNER_DID,
      listen,
      dbPath: parsed.TACK_DB_PATH,
      jetstreamUrl: parsed.TACK_JETSTREAM_URL,
      dev: /^(?:1|true|yes|on)$/.test(parsed.TACK_DEV),
      logLevel: parsed.TACK_LOG_LEVEL,
    },
    unknownVariables: Object.keys(env).filter(
      (key) => key.startsWith("TACK_") && !known.includes(key),
    ),
  };
}

/** ":8080" → all interfaces; "127.0.0.1:8080"; "[::1]:8080" → "::1". */
export function parseListenAddress(addr: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(addr);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

function firstError(value: unknown): string | undefined {
  const first = Value.Errors(Env, value).First();
  if (!first) return undefined;
  const variable = first.path.replace(/^\//, "");
  const schema: TSchema | undefined = Env.properties[variable as keyof Env];
  const expected = schema?.description ?? first.message;
  if (first.value === undefined) return `${variable} is required: ${expected}`;
  const shown = SECRET_VARIABLES.has(variable) ? "" : ` ${JSON.stringify(first.value)}`;
  return `${variable}: invalid value${shown}: expected ${expected}`;
}
