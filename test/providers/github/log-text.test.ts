/** Job log text → lines: timestamps become times, ANSI goes, redraws keep what is shown. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { parseJobLog, stripAnsi } from "../../../src/providers/github/log-text.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

describe("github job log", () => {
  test("strips the BOM, the timestamps and ANSI; CRLF or LF", () => {
    const lines = parseJobLog(
      "\uFEFF2026-11-26T20:00:10.1234567Z \u001b[1;32mPASS\u001b[0m a\r\n2026-11-26T20:00:11.9Z b\nplain\n",
    );
    expect(lines.map((l) => l.text)).toEqual(["PASS a", "b", "plain"]);
    expect(lines.map((l) => l.time?.toISOString())).toEqual([
      "2026-11-26T20:00:10.123Z",
      "2026-11-26T20:00:11.900Z",
      "2026-11-26T20:00:11.900Z",
    ]);
  });

  test("lines before any timestamp take the fallback time", () => {
    const start = new Date("2026-11-26T20:00:00Z");
    expect(parseJobLog("no stamp\n", start)[0]?.time).toEqual(start);
    expect(parseJobLog("no stamp\n")[0]?.time).toBeUndefined();
  });

  test("##[error] lines go to stderr; others to stdout", () => {
    const lines = parseJobLog(
      "2026-11-26T20:00:10.0000000Z ##[error]boom\n2026-11-26T20:00:10.0000000Z ##[warning]hm\n",
    );
    expect(lines.map((l) => l.stream)).toEqual(["stderr", "stdout"]);
  });

  test("a carriage-return redraw keeps the last state", () => {
    expect(parseJobLog("2026-11-26T20:00:10.0000000Z 10%\r50%\r100%\n")[0]?.text).toBe("100%");
  });

  test("removes colour, cursor and OSC sequences, keeps the text", () => {
    expect(
      stripAnsi(
        "\u001b[31mred\u001b[39m \u001b[2K\u001b[1Gline \u001b]8;;https://x\u0007link\u001b]8;;\u0007",
      ),
    ).toBe("red line link");
  });

  test("an empty log has no lines", () => {
    expect(parseJobLog("")).toEqual([]);
  });
});
