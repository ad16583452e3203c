/** Cleaning Buildkite job logs into LogLine text. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { cleanLine, LogLineSplitter } from "../../../src/providers/buildkite/log-text.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const ESC = "\u001b";

test("colours, cursor moves, OSC links and Buildkite timestamp markers are removed", () => {
  const raw = `${ESC}_bk;t=1764187200123\u0007${ESC}[1;31mred${ESC}[0m ${ESC}[2K${ESC}]1339;url=x\u0007link ${ESC}(Bend\r`;
  expect(cleanLine(raw)).toEqual({ text: "red link end", time: new Date(1764187200123) });
});

test("a carriage-return redraw keeps what the terminal shows last", () => {
  expect(cleanLine("10%\r50%\r100%").text).toBe("100%");
  expect(cleanLine("done\r\r").text).toBe("done");
});

test("lines without a marker have no time of their own", () => {
  expect(cleanLine("plain")).toEqual({ text: "plain" });
});

test("lines and UTF-8 characters split across chunks are joined", () => {
  const splitter = new LogLineSplitter();
  const bytes = new TextEncoder().encode("héllo\nwörld\nta");
  const out = [
    ...splitter.push(bytes.subarray(0, 2)), // cuts "é" in half
    ...splitter.push(bytes.subarray(2, 9)), // cuts "ö" in half
    ...splitter.push(bytes.subarray(9)),
    ...splitter.push(new TextEncoder().encode("il")),
    ...splitter.end(),
  ];
  expect(out.map((line) => line.text)).toEqual(["héllo", "wörld", "tail"]);
});
