/**
 * Structured JSON-lines logging on stdout, one object per line:
 * {"time":"…","level":"info","msg":"events: subscriber connected","remote":"…"}.
 * Messages read "<subsystem>: <verb phrase>"; fields are snake_case as in the Go tack so
 * operators' greps keep working. Level by whose fault it is: warn = the remote's, error = ours,
 * debug = normal churn. Any field whose name looks like a credential is redacted, so a secret
 * cannot reach the journal even by mistake.
 *
 * Field names are the same everywhere: an error is always `err` (a field passed as `error` is
 * renamed), a subsystem is `component`. Under systemd (`journald: true`) each line starts with
 * its syslog priority, `<3>` error, `<4>` warn, `<6>` info, `<7>` debug: journald strips the
 * prefix and files the line at that priority, so `journalctl -p warning` works and
 * `journalctl -o cat | jq` still reads plain JSON.
 */
import { fstatSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /token|secret|password|authorization|signature/i;
const PRIORITY: Record<LogLevel, string> = { debug: "<7>", info: "<6>", warn: "<4>", error: "<3>" };

export interface LoggerOptions {
  /** Prefix each line with its syslog priority for journald. */
  journald?: boolean;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (bind knot, workflow, … once). */
  child(fields: LogFields): Logger;
  /** Whether a line at `level` is written: work that only feeds a line can be skipped. */
  enabled(level: LogLevel): boolean;
}

/** Where log lines go: a stream's write and its error event (process.stdout's shape). */
export interface LineSink {
  write(line: string): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * Writes lines to `sink` (stdout) until it breaks. A reader that goes away (a pipe whose other
 * end closed, EPIPE) must not take the service down or fill stderr with one stack per line:
 * the first failure is said once on `notice` (stderr), and later lines are dropped.
 */
export function stdoutLines(
  sink: LineSink = process.stdout,
  notice: (line: string) => void = (line) => process.stderr.write(line),
): (line: string) => void {
  let broken = false;
  const fail = (error: unknown) => {
    if (broken) return;
    broken = true;
    const code = (error as { code?: unknown } | null)?.code;
    try {
      notice(
        `tack: stdout closed (${typeof code === "string" ? code : String(error)}); log lines are dropped from now on\n`,
      );
    } catch {
      // stderr is gone too: nothing left to tell.
    }
  };
  sink.on("error", fail);
  return (line) => {
    if (broken) return;
    try {
      sink.write(line);
    } catch (error) {
      fail(error);
    }
  };
}

let sharedStdout: ((line: string) => void) | undefined;
/** One writer for the process's stdout, shared by every logger (one error listener). */
function processStdout(): (line: string) => void {
  if (!sharedStdout) {
    // Under systemd stdout and stderr are the same journal stream: when it goes, the notice
    // to stderr fails too, and an unheard stream error must not end the service.
    process.stderr.on("error", () => {});
    sharedStdout = stdoutLines();
  }
  return sharedStdout;
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = processStdout(),
  bound: LogFields = {},
  options: LoggerOptions = {},
): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    const entry: LogFields = { time: new Date().toISOString(), level: lvl, msg };
    for (const source of [bound, fields ?? {}]) {
      for (const [key, value] of Object.entries(source))
        entry[key === "error" ? "err" : key] = fieldValue(key, value);
    }
    write(`${options.journald ? PRIORITY[lvl] : ""}${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLogger(level, write, { ...bound, ...fields }, options),
    enabled: (lvl) => LEVELS[lvl] >= min,
  };
}

/**
 * Whether stdout is connected to journald: systemd sets JOURNAL_STREAM to the device and inode
 * of the stream it gave us; a match (and not merely the variable, which children inherit) says
 * our stdout really goes there.
 */
export function stdoutIsJournal(journalStream: string | undefined): boolean {
  if (!journalStream) return false;
  const [device, inode] = journalStream.split(":");
  try {
    const stat = fstatSync(1);
    return String(stat.dev) === device && String(stat.ino) === inode;
  } catch {
    return false;
  }
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = createLogger("error", () => {});

function fieldValue(key: string, value: unknown): unknown {
  if (SECRET_FIELD.test(key)) return "[redacted]";
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return errorText(value);
  return value;
}

/** The message and its causes ("cannot open …: disk I/O error"), which say what to fix. */
function errorText(error: Error): string {
  let text = error.message;
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    if (!text.includes(cause.message)) text += `: ${cause.message}`;
    cause = cause.cause;
  }
  return text;
}
