/**
 * /logs for a Buildkite workflow over the real WebSocket: per command job a
 * control start line, clean data lines, a control end line; a running build is followed
 * until it finishes.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { LogLine } from "../../../src/providers/provider.ts";
import { connect, upgradeStatus } from "../../helpers/ws.ts";
import { type Harness, KNOT, startHarness } from "./harness.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const ESC = "\u001b";
const BEL = "\u0007";
const stamp = (ms: number) => `${ESC}_bk;t=${ms}${BEL}`;
// 2026-11-26T20:00:00Z and one second later.
const T0 = Date.UTC(2026, 10, 26, 20, 0, 0);

function logsUrl(h: Harness, id: { pipelineRkey: string; name: string }): string {
  return `${h.service.ws}/logs/${KNOT}/${id.pipelineRkey}/${id.name}`;
}

function parsed(frames: string[]): LogLine[] {
  return frames.map((frame) => {
    const line: unknown = JSON.parse(frame);
    if (!Value.Check(LogLine, line)) throw new Error(`not a LogLine: ${frame}`);
    return line;
  });
}

function summary(lines: LogLine[]): string[] {
  return lines.map((line) =>
    line.kind === "control"
      ? `${line.step_id} ${line.step_status} ${line.content} $ ${line.step_command ?? ""}`
      : `${line.step_id} | ${line.content}`,
  );
}

describe("buildkite logs", () => {
  test("a finished build: each command job framed by start and end, escapes removed", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    const build = h.fake.onlyBuild();
    const [testJob, lintJob] = h.fake.scriptJobs(build);
    if (!testJob || !lintJob) throw new Error("stand-in build has no jobs");
    h.fake.appendLog(
      testJob,
      [
        `${stamp(T0)}${ESC}[90m~~~ Preparing working directory${ESC}[0m\r\n`,
        `${stamp(T0 + 1000)}$ make test\r\n`,
        `${stamp(T0 + 1500)}${ESC}[32m✓ 12 tests passed${ESC}[0m\n`,
        `${stamp(T0 + 1600)}downloading 10%\r${stamp(T0 + 1700)}downloading 100%\n`,
        `${ESC}]1339;url=https://example.com;content=link${BEL}no newline at the end`,
      ].join(""),
    );
    h.fake.appendLog(lintJob, "lint ok\n");
    h.fake.finishJob(testJob);
    h.fake.finishJob(lintJob);
    h.fake.update(build, { state: "passed" });

    const client = connect(logsUrl(h, id));
    expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
    const lines = parsed(client.frames);
    expect(summary(lines)).toEqual([
      "0 start :test_tube: Test $ make test",
      "0 | ~~~ Preparing working directory",
      "0 | $ make test",
      "0 | ✓ 12 tests passed",
      "0 | downloading 100%",
      "0 | no newline at the end",
      "0 end :test_tube: Test $ make test",
      "1 start :lint: Lint $ make lint",
      "1 | lint ok",
      "1 end :lint: Lint $ make lint",
    ]);
    // A Buildkite timestamp marker dates its line.
    expect(lines[1]).toMatchObject({ time: "2026-11-26T20:00:00Z", stream: "stdout", step_id: 0 });
    expect(lines[3]?.time).toBe("2026-11-26T20:00:01.5Z");
    expect(lines[4]?.time).toBe("2026-11-26T20:00:01.7Z");
    expect(lines[0]).toMatchObject({ kind: "control", step_kind: 1 });
    for (const frame of client.frames) expect(frame).not.toContain(ESC);
  });

  test("a running build is followed live, fetching only the new tail, until it finishes", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    const build = h.fake.onlyBuild();
    const [testJob, lintJob] = h.fake.scriptJobs(build);
    if (!testJob || !lintJob) throw new Error("stand-in build has no jobs");
    h.fake.update(build, { state: "running" });
    h.fake.startJob(testJob);
    h.fake.appendLog(testJob, "line 1\n");

    const client = connect(logsUrl(h, id));
    expect(summary(parsed(await client.waitFor(2)))).toEqual([
      "0 start :test_tube: Test $ make test",
      "0 | line 1",
    ]);
    h.fake.appendLog(testJob, "line 2\npart");
    expect(parsed([await client.frame(2)])[0]?.content).toBe("line 2");
    h.fake.appendLog(testJob, "ial line\n");
    expect(parsed([await client.frame(3)])[0]?.content).toBe("partial line");
    h.fake.appendLog(testJob, "last line\n");
    h.fake.finishJob(testJob);
    h.fake.startJob(lintJob);
    h.fake.appendLog(lintJob, "linting\n");
    expect(summary(parsed(await client.waitFor(8)).slice(4))).toEqual([
      "0 | last line",
      "0 end :test_tube: Test $ make test",
      "1 start :lint: Lint $ make lint",
      "1 | linting",
    ]);
    h.fake.finishJob(lintJob, "failed");
    h.fake.update(build, { state: "failed" });

    expect(await client.closed).toEqual({ code: 1000, reason: "log stream complete" });
    expect(summary(parsed(client.frames)).slice(8)).toEqual(["1 end :lint: Lint $ make lint"]);
    // After the first read, only tails were fetched.
    const tails = h.fake
      .callsTo("GET", /\/jobs\/[^/]+\/log$/)
      .map((call) => call.headers.get("range"))
      .filter((range) => range !== null);
    expect(tails).toEqual(["bytes=-11", "bytes=-9", "bytes=-10"]);
    expect(h.fake.callsTo("HEAD", /\/jobs\/[^/]+\/log$/).length).toBeGreaterThan(0);
  });

  test("a Buildkite API that cannot be reached is a 500 before the upgrade", async () => {
    await using h = await startHarness();
    const { id } = await h.dispatch("ci.yml");
    h.fake.answerNext("GET", /\/builds\/\d+$/, { status: 503, body: { message: "down" } }, 10);
    expect(await upgradeStatus(logsUrl(h, id))).toEqual({
      status: 500,
      body: "logs unavailable\n",
    });
  });
});
