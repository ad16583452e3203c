/**
 * Job traces into log lines: ANSI removed, GitLab's section markers and per-line timestamps
 * understood, carriage-return redraws reduced, and pieces split anywhere (even inside a UTF-8
 * character or a timestamp) giving the same lines.
 */
import { describe, expect, test } from "bun:test";
import { type TraceLine, TraceSplitter } from "../../../src/providers/gitlab/log-text.ts";

const ESC = "\u001b";

function split(trace: string, pieces: number[] = []): TraceLine[] {
  const bytes = new TextEncoder().encode(trace);
  const splitter = new TraceSplitter();
  const lines: TraceLine[] = [];
  let from = 0;
  for (const at of [...pieces, bytes.length]) {
    lines.push(...splitter.push(bytes.subarray(from, at)));
    from = at;
  }
  return [...lines, ...splitter.end()];
}

const PLAIN = [
  `${ESC}[0KRunning with gitlab-runner 18.6.0 (3a5f2314)${ESC}[0;m`,
  `${ESC}[0Ksection_start:1768988825:prepare_executor\r${ESC}[0K${ESC}[0K${ESC}[36;1mPreparing the "docker" executor${ESC}[0;m`,
  `${ESC}[0KUsing Docker executor with image golang:1.24 ...${ESC}[0;m`,
  `${ESC}[0Ksection_end:1768988826:prepare_executor\r${ESC}[0K`,
  `${ESC}[32;1m$ go test ./...${ESC}[0;m`,
  "downloading 10%\rdownloading 55%\rdownloading 100%",
  "",
  `ok  \tapp\t0.012s ✓`,
  `${ESC}[0Ksection_start:1768988830:cleanup[collapsed=true]\r${ESC}[0K`,
  `${ESC}[0Ksection_end:1768988831:cleanup\r${ESC}[0K`,
  `${ESC}[32;1mJob succeeded${ESC}[0;m`,
  "",
].join("\n");

describe("gitlab trace text", () => {
  test("escapes, section markers and redraws are removed; a marker's time is its line's", () => {
    expect(split(PLAIN)).toEqual([
      { text: "Running with gitlab-runner 18.6.0 (3a5f2314)", stream: "stdout" },
      {
        text: 'Preparing the "docker" executor',
        stream: "stdout",
        time: new Date(1768988825 * 1000),
      },
      { text: "Using Docker executor with image golang:1.24 ...", stream: "stdout" },
      { text: "$ go test ./...", stream: "stdout" },
      { text: "downloading 100%", stream: "stdout" },
      // A real empty line stays; a line that only held a marker does not.
      { text: "", stream: "stdout" },
      { text: "ok  \tapp\t0.012s ✓", stream: "stdout" },
      { text: "Job succeeded", stream: "stdout" },
    ]);
  });

  test("pieces cut anywhere, even inside a character, give the same lines", () => {
    const whole = split(PLAIN);
    const size = new TextEncoder().encode(PLAIN).length;
    for (let at = 1; at < size; at += 7) expect(split(PLAIN, [at])).toEqual(whole);
    expect(split(PLAIN, [5, 90, 91, 92, 200, 301])).toEqual(whole);
  });

  test("runner timestamps give each line its time and stream; a + line continues the one before", () => {
    const trace = [
      `2026-01-21T09:47:05.094234Z 00O ${ESC}[0KRunning with gitlab-runner 18.7.0${ESC}[0;m`,
      "2026-01-21T09:47:05.094269Z 00O section_start:1768988825:prepare_executor\r",
      `2026-01-21T09:47:05.094270Z 00O+${ESC}[0K${ESC}[36;1mPreparing the "docker+machine" executor${ESC}[0;m`,
      "2026-01-21T09:47:09.874960Z 01O building",
      `2026-01-21T09:47:10.000001Z 01E ${ESC}[31mwarning: deprecated${ESC}[0m`,
      "2026-01-21T09:47:10.500000Z 01O a long line split by the runner ",
      "2026-01-21T09:47:10.500001Z 01O+and continued",
      "2026-01-21T09:47:11.000000Z 00O section_end:1768988831:prepare_executor\r",
      "2026-01-21T09:47:11.000001Z 00O ",
      "2026-01-21T09:47:12.251435Z 00O Job succeeded",
      "",
    ].join("\n");
    const lines = split(trace);
    expect(lines).toEqual([
      {
        text: "Running with gitlab-runner 18.7.0",
        stream: "stdout",
        time: new Date("2026-01-21T09:47:05.094Z"),
      },
      {
        text: 'Preparing the "docker+machine" executor',
        stream: "stdout",
        time: new Date("2026-01-21T09:47:05.094Z"),
      },
      { text: "building", stream: "stdout", time: new Date("2026-01-21T09:47:09.874Z") },
      { text: "warning: deprecated", stream: "stderr", time: new Date("2026-01-21T09:47:10.000Z") },
      {
        text: "a long line split by the runner and continued",
        stream: "stdout",
        time: new Date("2026-01-21T09:47:10.500Z"),
      },
      { text: "", stream: "stdout", time: new Date("2026-01-21T09:47:11.000Z") },
      { text: "Job succeeded", stream: "stdout", time: new Date("2026-01-21T09:47:12.251Z") },
    ]);
    const size = new TextEncoder().encode(trace).length;
    for (let at = 1; at < size; at += 5) expect(split(trace, [at])).toEqual(lines);
  });

  test("a timestamped line is held until the next one shows it complete", () => {
    const splitter = new TraceSplitter();
    const encode = (text: string) => new TextEncoder().encode(text);
    expect(splitter.push(encode("2026-01-21T09:47:05.000000Z 00O first\n"))).toEqual([]);
    expect(splitter.push(encode("2026-01-21T09:47:06.000000Z 00O+, still first\n"))).toEqual([]);
    expect(splitter.push(encode("2026-01-21T09:47:07.000000Z 00O second\n"))).toEqual([
      { text: "first, still first", stream: "stdout", time: new Date("2026-01-21T09:47:05Z") },
    ]);
    expect(splitter.end()).toEqual([
      { text: "second", stream: "stdout", time: new Date("2026-01-21T09:47:07Z") },
    ]);
  });

  test("a last line without a newline comes out at the end; OSC links and lone escapes go", () => {
    expect(
      split(`${ESC}]8;;https://x.test${ESC}\\link${ESC}]8;;${ESC}\\ and ${ESC}(Bcharset${ESC}`),
    ).toEqual([{ text: "link and charset", stream: "stdout" }]);
  });
});
