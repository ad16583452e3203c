/**
 * Reads the TACK_* environment exactly once, validates it with one TypeBox schema, and hands a
 * typed Config to the composition root. Names and defaults match the Go tack, so an operator
 * swaps the binary and keeps the EnvironmentFile. An empty variable counts as unset.
 *
 * A bad or missing variable becomes a ConfigError whose message names the variable and says
 * what is expected; the value itself is echoed only for variables that are not secrets.
 */
import { type Static, type TObject, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { LogLevel } from "./log.ts";
import { CATALOG, type ProviderConfigs } from "./providers/catalog.ts";
import type { ProviderDescriptor } from "./providers/provider.ts";
import { looksLikeToken } from "./providers/redact.ts";
import { parseSecretsKey } from "./secrets/key.ts";

const HOSTNAME = "^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$";
const DID = "^did:[a-z]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._-]$";
const LISTEN_ADDR = "^(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$";
const BOOLEAN = "^(?:1|0|true|false|yes|no|on|off)$";

const CoreEnv = Type.Object({
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
  TACK_PLC_URL: Type.String({
    default: "https://plc.directory",
    pattern: "^https?://[^\\s]+$",
    description: "the PLC directory that resolves did:plc identities, e.g. https://plc.directory",
  }),
  TACK_SECRETS_KEY: Type.Optional(
    Type.String({
      pattern: "^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$",
      description:
        "32 random bytes as base64 or hex, e.g. from `openssl rand -base64 32` (default: a key file beside the database)",
      secret: true,
    }),
  ),
  TACK_EVENTS_RETENTION: Type.String({
    default: "30d",
    pattern: "^(?:0|[0-9]{1,6}[smhd])$",
    description: "how long to keep events, e.g. 30d, 72h or 0 to keep everything",
  }),
  TACK_EVENTS_BUFFER_CAP: Type.String({
    default: "64MiB",
    pattern: "^[1-9][0-9]{0,5}(?:KiB|MiB|GiB)$",
    description:
      "the most memory all /events subscribers' unsent frames may take together, e.g. 64MiB",
  }),
});
type CoreEnv = Static<typeof CoreEnv>;

/** The core's variables and every catalogued provider's, validated as one schema. */
function envSchema(catalog: readonly ProviderDescriptor[]) {
  const properties: Record<string, TSchema> = { ...CoreEnv.properties };
  for (const descriptor of catalog) Object.assign(properties, descriptor.env);
  return Type.Object(properties);
}

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
  /** The PLC directory did:plc identities are resolved with (no trailing slash). */
  plcUrl: string;
  /** The key that seals repo secrets at rest, when the operator set TACK_SECRETS_KEY. */
  secretsKey?: Buffer;
  dev: boolean;
  logLevel: LogLevel;
  /** Events (and finished build references) older than this are pruned; 0 keeps everything. */
  eventsRetentionMs: number;
  /** Cap on all /events send buffers together (default 64 MiB; see src/http/events.ts). */
  eventsBufferCapBytes?: number;
  /** Each enabled provider's config, by name (see src/providers/catalog.ts). */
  providers: ProviderConfigs;
}

export class ConfigError extends Error {}

export interface LoadedConfig {
  config: Config;
  /** TACK_* variables tack does not know: almost always a typo worth a warning. */
  unknownVariables: string[];
}

/**
 * `overrides.addr` is the -addr/--addr flag, which wins over TACK_LISTEN_ADDR. `catalog` is
 * the providers whose variables are read (tests add their own).
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  overrides: { addr?: string } = {},
  catalog: readonly ProviderDescriptor[] = CATALOG,
): LoadedConfig {
  const Env = envSchema(catalog);
  const known = Object.keys(Env.properties);
  const raw: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  if (overrides.addr !== undefined) raw.TACK_LISTEN_ADDR = overrides.addr;
  const commented = inlineComment(Env, raw);
  if (commented) throw new ConfigError(commented);
  const withDefaults = Value.Default(Env, raw);
  // Value.Check is the fast path; the error iterator runs only when there is something to say.
  const error = Value.Check(Env, withDefaults) ? undefined : firstError(Env, withDefaults);
  if (error) throw new ConfigError(error);
  const parsed = withDefaults as CoreEnv & Record<string, string | undefined>;

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
      plcUrl: parsed.TACK_PLC_URL.replace(/\/+$/, ""),
      secretsKey:
        parsed.TACK_SECRETS_KEY === undefined
          ? undefined
          : parseSecretsKey(parsed.TACK_SECRETS_KEY),
      dev: /^(?:1|true|yes|on)$/.test(parsed.TACK_DEV),
      logLevel: parsed.TACK_LOG_LEVEL,
      eventsRetentionMs: parseDuration(parsed.TACK_EVENTS_RETENTION),
      eventsBufferCapBytes: parseSize(parsed.TACK_EVENTS_BUFFER_CAP),
      providers: providerConfigs(parsed, catalog),
    },
    unknownVariables: Object.keys(env).filter(
      (key) => key.startsWith("TACK_") && !known.includes(key),
    ),
  };
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d" → ms; the schema pattern already guarantees the shape. */
function parseDuration(text: string): number {
  if (text === "0") return 0;
  return Number(text.slice(0, -1)) * (UNIT_MS[text.slice(-1)] ?? 0);
}

const UNIT_BYTES: Record<string, number> = { KiB: 1 << 10, MiB: 1 << 20, GiB: 1 << 30 };

/** "64MiB" → bytes; the schema pattern already guarantees the shape. */
function parseSize(text: string): number {
  return Number(text.slice(0, -3)) * (UNIT_BYTES[text.slice(-3)] ?? 0);
}

/** `tack backup` needs only the database path, not a full service configuration. */
export function loadDbPath(env: Record<string, string | undefined>): string {
  return env.TACK_DB_PATH || "tack.db";
}

/** Asks each catalogued provider for its config; a provider's complaint becomes a ConfigError. */
function providerConfigs(
  env: Record<string, string | undefined>,
  catalog: readonly ProviderDescriptor[],
): ProviderConfigs {
  const configs: Record<string, unknown> = {};
  for (const descriptor of catalog) {
    try {
      const config = descriptor.configure(env);
      if (config !== undefined) configs[descriptor.name] = config;
    } catch (error) {
      throw new ConfigError(error instanceof Error ? error.message : String(error));
    }
  }
  return configs as ProviderConfigs;
}

/** ":8080" → all interfaces; "127.0.0.1:8080"; "[::1]:8080" → "::1". */
export function parseListenAddress(addr: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(addr);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/**
 * systemd's EnvironmentFile= keeps everything after "=" (only whole-line comments are
 * comments), while a shell's `. /etc/tack/env` drops "  # …": the same file then passes a
 * pre-flight and breaks the service. No TACK_* value contains whitespace followed by "#".
 */
function inlineComment(Env: TObject, raw: Record<string, string>): string | undefined {
  for (const [variable, value] of Object.entries(raw)) {
    if (!/\s#/.test(value)) continue;
    const shown = echoable(Env, variable, value) ? ` ${JSON.stringify(value)}` : "";
    return `${variable}: invalid value${shown}: it ends in an inline comment, which systemd's EnvironmentFile= does not strip (only lines starting with # are comments); put the comment on a line of its own`;
  }
  return undefined;
}

/** The first problem, naming the variable; a secret, or anything like a token, is not echoed. */
function firstError(Env: TObject, value: unknown): string | undefined {
  const first = Value.Errors(Env, value).First();
  if (!first) return undefined;
  const variable = first.path.replace(/^\//, "");
  const schema = (Env.properties as Record<string, TSchema | undefined>)[variable];
  const expected = schema?.description ?? first.message;
  if (first.value === undefined) return `${variable} is required: ${expected}`;
  const shown = echoable(Env, variable, first.value) ? ` ${JSON.stringify(first.value)}` : "";
  return `${variable}: invalid value${shown}: expected ${expected}`;
}

/** Whether an error may show a variable's value: not a secret, and nothing shaped like a token. */
function echoable(Env: TObject, variable: string, value: unknown): boolean {
  const schema = (Env.properties as Record<string, TSchema | undefined>)[variable];
  return schema?.secret !== true && !(typeof value === "string" && looksLikeToken(value));
}
