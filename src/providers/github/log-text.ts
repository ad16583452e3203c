/**
 * Reads a GitHub job log (the plain text behind GET …/jobs/{id}/logs) into lines for LogLines.
 *
 * GitHub prefixes every line with an ISO timestamp of 7 fractional digits; tack always strips it
 * and uses it as the line's `time` (lines without one take the previous line's time). ANSI
 * escapes are removed, since Tangled's log view shows text. `##[group]`-style workflow commands
 * are kept as GitHub prints them, except that `##[error]` lines go to stderr.
 */

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z ?/;
// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and lone two-byte escapes.
const ANSI = new RegExp(
  [
    "\\u001b\\[[0-?]*[ -/]*[@-~]",
    "\\u001b\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)",
    "\\u001b[@-Z\\\\-_]",
  ].join("|"),
  "g",
);

export interface JobLogLine {
  time: Date | undefined;
  text: string;
  stream: "stdout" | "stderr";
}

export function parseJobLog(log: string, fallbackTime?: Date): JobLogLine[] {
  const lines = log.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  let time = fallbackTime;
  return lines.map((raw) => {
    const stamp = TIMESTAMP.exec(raw);
    let text = raw;
    if (stamp) {
      const millis = (stamp[2] ?? ".000").slice(0, 4).padEnd(4, "0");
      const parsed = new Date(`${stamp[1]}${millis}Z`);
      if (!Number.isNaN(parsed.getTime())) time = parsed;
      text = raw.slice(stamp[0].length);
    }
    text = stripAnsi(text);
    // A carriage return redraws the line (progress bars): what stays on screen is the last part.
    text = text.slice(text.lastIndexOf("\r") + 1);
    return { time, text, stream: text.startsWith("##[error]") ? "stderr" : "stdout" };
  });
}

export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}
