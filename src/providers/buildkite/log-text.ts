/**
 * Turns a Buildkite job log (raw terminal bytes) into plain lines for
 * LogLines: UTF-8 decoded across chunk boundaries, split on newlines, ANSI escape sequences
 * and Buildkite's `ESC _bk;t=<ms> BEL` timestamp markers removed, and a carriage-return
 * redraw (progress bars) reduced to what a terminal would finally show. A marker's timestamp
 * becomes the line's time.
 */

export interface LogText {
  text: string;
  /** From the line's Buildkite timestamp marker, when it has one. */
  time?: Date;
}

// Buildkite's per-line timestamp: an APC sequence ESC _ bk;t=<unix ms> BEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const BK_TIMESTAMP = /\u001b_bk;t=(\d+)\u0007/g;
// Other string sequences (OSC, DCS, APC, PM), ended by BEL or ST (ESC \).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const STRING_SEQUENCE = /\u001b[\]P_^][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;
// CSI: colours, cursor movement, erase.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const CSI = /\u001b\[[0-?]*[ -/]*[@-~]/g;
// Other escapes: intermediates then a final byte (charset selection "ESC ( B", "ESC 7"), or
// a lone ESC.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const SHORT_ESCAPE = /\u001b(?:[ -/]*[0-~])?/g;
// Control characters other than tab.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

export class LogLineSplitter {
  private readonly decoder = new TextDecoder("utf-8");
  private partial = "";

  /** The complete lines in `bytes` (with what was left over before); keeps the rest. */
  push(bytes: Uint8Array): LogText[] {
    this.partial += this.decoder.decode(bytes, { stream: true });
    const pieces = this.partial.split("\n");
    this.partial = pieces.pop() ?? "";
    return pieces.map(cleanLine);
  }

  /** The last line when the log did not end with a newline. */
  end(): LogText[] {
    this.partial += this.decoder.decode();
    const rest = this.partial;
    this.partial = "";
    return rest === "" ? [] : [cleanLine(rest)];
  }
}

export function cleanLine(raw: string): LogText {
  const segments = raw.replace(/\r+$/, "").split("\r");
  // After a carriage return the terminal overwrites the line: the last redraw is what shows.
  const shown = segments.at(-1) ?? "";
  const time = timestampOf(shown) ?? timestampOf(raw);
  const text = shown
    .replace(BK_TIMESTAMP, "")
    .replace(STRING_SEQUENCE, "")
    .replace(CSI, "")
    .replace(SHORT_ESCAPE, "")
    .replace(CONTROL, "");
  return time ? { text, time } : { text };
}

function timestampOf(text: string): Date | undefined {
  BK_TIMESTAMP.lastIndex = 0;
  const match = BK_TIMESTAMP.exec(text);
  BK_TIMESTAMP.lastIndex = 0;
  if (!match?.[1]) return undefined;
  const time = new Date(Number(match[1]));
  return Number.isNaN(time.getTime()) ? undefined : time;
}
