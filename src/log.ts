/**
 * Structured JSON-lines logging on stdout, one object per line:
 * {"time":"…","level":"info","msg":"events: subscriber connected","remote":"…"}.
 * Messages read "<subsystem>: <verb phrase>"; fields are snake_case as in the Go tack so
 * operators' greps keep working. Level by whose fault it is: warn = the remote's, error = ours,
 * debug = normal churn. Any field whose name looks like a credential is redacted, so a secret
 * cannot reach the journal even by mistake.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|authorization|signature/i;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (bind knot, workflow, … once). */
  child(fields: LogFields): Logger;
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(line),
  bound: LogFields = {},
): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    const entry: LogFields = { time: new Date().toISOString(), level: lvl, msg };
    for (const source of [bound, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) entry[key] = fieldValue(key, value);
    }
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(level, write, { ...bound, ...fields }),
  };
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = createLogger("error", () => {});

function fieldValue(key: string, value: unknown): unknown {
  if (SECRET_FIELD.test(key)) return "[redacted]";
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}
