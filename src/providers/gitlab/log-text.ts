/**
 * Turns a GitLab job trace (the raw terminal bytes behind GET …/jobs/:id/trace, read a piece at
 * a time as it grows) into plain lines for LogLines:
 * - UTF-8 decoded across piece boundaries, split on newlines;
 * - GitLab's collapsible-section markers (`section_start:<unix s>:<name>[options]` and
 *   `section_end:…`, each followed by `\r ESC[0K`) removed; a line that held nothing but a
 *   marker is dropped, and a marker's time becomes its line's time;
 * - with the runner's per-line timestamps on (FF_TIMESTAMPS: `<RFC 3339> <stream><O|E>[+]` before
 *   every line), the prefix is removed and becomes the line's time, `E` lines go to stderr, and a
 *   `+` line continues the line before it. Such a line is held until the next line shows it is
 *   complete (or the trace ends);
 * - a carriage-return redraw (progress bars) reduced to what a terminal finally shows, and ANSI
 *   escape sequences removed, since Tangled's log view shows text.
 */

export interface TraceLine {
  text: string;
  stream: "stdout" | "stderr";
  /** From the line's timestamp prefix or section marker, when it has one. */
  time?: Date;
}

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) [0-9a-f]{2}([OE])([ +])/;
// `section_start:<unix s>:<name>[options]` or `section_end:<unix s>:<name>`, with the escapes
// around it.
const SECTION =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
  /(?:\u001b\[0K)?section_(?:start|end):(\d+):[A-Za-z0-9_.-]+(?:\[[^\]\r\n]*\])?\r?(?:\u001b\[0K)?/g;
// Other string sequences (OSC, DCS, APC, PM), ended by BEL or ST (ESC \).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const STRING_SEQUENCE = /\u001b[\]P_^][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;
// CSI: colours, cursor movement, erase.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const CSI = /\u001b\[[0-?]*[ -/]*[@-~]/g;
// Other escapes, or a lone ESC.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const SHORT_ESCAPE = /\u001b(?:[ -/]*[0-~])?/g;
// Control characters other than tab (a carriage return is handled before this).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

interface Pending {
  raw: string;
  stream: "stdout" | "stderr";
  time?: Date;
}

export class TraceSplitter {
  private readonly decoder = new TextDecoder("utf-8");
  private partial = "";
  /** A timestamped line that a `+` continuation may still extend. */
  private held: Pending | undefined;

  /** The lines completed by `bytes` (with what was left over before); keeps the rest. */
  push(bytes: Uint8Array): TraceLine[] {
    this.partial += this.decoder.decode(bytes, { stream: true });
    const pieces = this.partial.split("\n");
    this.partial = pieces.pop() ?? "";
    return pieces.flatMap((piece) => this.physical(piece));
  }

  /** Everything still held, once the trace is complete. */
  end(): TraceLine[] {
    this.partial += this.decoder.decode();
    const rest = this.partial;
    this.partial = "";
    const lines = rest === "" ? [] : this.physical(rest);
    const held = this.held;
    this.held = undefined;
    return held ? [...lines, ...clean(held)] : lines;
  }

  private physical(piece: string): TraceLine[] {
    const stamp = TIMESTAMP.exec(piece);
    if (!stamp) {
      const held = this.held;
      this.held = undefined;
      return [...(held ? clean(held) : []), ...clean({ raw: piece, stream: "stdout" })];
    }
    const raw = piece.slice(stamp[0].length);
    if (stamp[3] === "+" && this.held) {
      this.held.raw += raw;
      return [];
    }
    const done = this.held ? clean(this.held) : [];
    const time = new Date(stamp[1] ?? "");
    this.held = {
      raw,
      stream: stamp[2] === "E" ? "stderr" : "stdout",
      time: Number.isNaN(time.getTime()) ? undefined : time,
    };
    return done;
  }
}

/** One logical line as the log shows it; none for a line that only held section markers. */
export function clean(line: Pending): TraceLine[] {
  let markerTime: Date | undefined;
  let marked = false;
  const unmarked = line.raw.replace(/\r+$/, "").replace(SECTION, (_marker, seconds: string) => {
    marked = true;
    markerTime ??= new Date(Number(seconds) * 1000);
    return "\r";
  });
  // After a carriage return the terminal overwrites the line: the last redraw is what shows.
  const segments = unmarked.replace(/\r+$/, "").split("\r");
  const text = stripAnsi(segments.at(-1) ?? "");
  if (marked && text.trim() === "") return [];
  const time = line.time ?? markerTime;
  return [time ? { text, stream: line.stream, time } : { text, stream: line.stream }];
}

export function stripAnsi(text: string): string {
  return text
    .replace(STRING_SEQUENCE, "")
    .replace(CSI, "")
    .replace(SHORT_ESCAPE, "")
    .replace(CONTROL, "");
}
