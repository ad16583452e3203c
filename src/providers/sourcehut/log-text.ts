/**
 * Reads builds.sr.ht log files into lines for LogLines.
 *
 * A job has a master log (`/query/log/<job>/log`: the runner booting the image, installing
 * packages, cloning sources, "Running task …") and one log per task (what the task's shell
 * printed on a pseudo-terminal, so lines end in "\r\n" and carry colours). Both only grow, so
 * tack reads them by byte offset; a UTF-8 character split between two reads is decoded once
 * both halves are in. Master-log lines start with `[#<job>] YYYY/MM/DD hh:mm:ss ` (the runner's
 * Go logger): that stamp becomes the line's time and is not repeated in its text. ANSI escapes
 * are removed (Tangled's log view shows text), and a carriage return inside a line (a progress
 * bar redrawing itself) keeps only what was left on screen.
 */

// CSI sequences (colours, cursor moves), OSC sequences (titles, links) and lone two-byte escapes.
const ANSI = new RegExp(
  [
    "\\u001b\\[[0-?]*[ -/]*[@-~]",
    "\\u001b\\][^\\u0007\\u001b]*(?:\\u0007|\\u001b\\\\)",
    "\\u001b[@-Z\\\\-_]",
  ].join("|"),
  "g",
);
const MASTER_STAMP = /^\[#\d+\] (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) ?/;

/** One log file read incrementally: bytes in, whole lines out. */
export class LogText {
  /** Bytes consumed so far (where the next read starts). */
  offset = 0;
  private partial = "";
  private readonly decoder = new TextDecoder("utf-8");

  /** The lines the new bytes complete (without their line ends). */
  push(bytes: Uint8Array): string[] {
    this.offset += bytes.length;
    const text = this.partial + this.decoder.decode(bytes, { stream: true });
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    return lines;
  }

  /** The last line when the file will not grow any more (nothing if it ended with a newline). */
  flush(): string[] {
    const rest = this.partial + this.decoder.decode();
    this.partial = "";
    return rest === "" ? [] : [rest];
  }
}

/** A line as shown: no escapes, no line end, only what a carriage return left on screen. */
export function cleanLine(raw: string): string {
  const text = raw.replace(/\r+$/, "").replace(ANSI, "");
  return text.slice(text.lastIndexOf("\r") + 1);
}

/** A master-log line: its stamp as a time (UTC: runners log in UTC) and the rest as text. */
export function masterLine(raw: string): { time: Date | undefined; text: string } {
  const text = cleanLine(raw);
  const stamp = MASTER_STAMP.exec(text);
  if (!stamp) return { time: undefined, text };
  const [, year, month, day, hour, minute, second] = stamp;
  const time = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return {
    time: Number.isNaN(time.getTime()) ? undefined : time,
    text: text.slice(stamp[0].length),
  };
}
