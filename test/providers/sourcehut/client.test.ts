/**
 * The GraphQL client against the builds.sr.ht stand-in: every document tack sends validates
 * against the schema (the stand-in rejects what builds.sr.ht would, and records it as a
 * problem), refusals come back as ApiErrors in tack's words, grants are told apart, and log
 * files are read by byte range.
 */
import { describe, expect, test } from "bun:test";
import { systemClock } from "../../../src/clock.ts";
import { ApiError } from "../../../src/providers/http-client.ts";
import { Redactor } from "../../../src/providers/redact.ts";
import { accessDenied, createSourcehutClient } from "../../../src/providers/sourcehut/client.ts";
import {
  type FakeSourcehut,
  NO_LOGS_TOKEN,
  READ_ONLY_TOKEN,
  SOURCEHUT_TOKEN,
} from "../../helpers/fake-sourcehut.ts";
import { FAST, MANIFEST, startFakeSourcehut } from "./harness.ts";

function client(sourcehut: FakeSourcehut, token = SOURCEHUT_TOKEN) {
  return createSourcehutClient(
    { token, instance: sourcehut.url },
    { fetch, clock: systemClock, redactor: new Redactor([token]) },
    FAST.http,
  );
}

const REQUEST = {
  manifest: MANIFEST,
  note: "n",
  tags: ["tack"],
  secrets: false,
  visibility: undefined,
};

describe("sourcehut client", () => {
  test("submit, poll in one request, list, manifest: all valid against the schema", async () => {
    const sourcehut = startFakeSourcehut();
    const api = client(sourcehut);
    const submitted = await api.submit({ ...REQUEST, visibility: "PRIVATE" });
    expect(submitted.status).toBe("PENDING");
    const job = sourcehut.job(submitted.id);
    expect(job).toMatchObject({ note: "n", tags: ["tack"], visibility: "PRIVATE", secrets: false });
    const other = await api.submit(REQUEST);
    const polled = await api.jobs([submitted.id, other.id, 999]);
    expect(polled.get(submitted.id)).toEqual({
      id: submitted.id,
      status: "QUEUED",
      runner: null,
      tasks: [
        { name: "build", status: "PENDING" },
        { name: "test", status: "PENDING" },
      ],
    });
    expect(polled.get(999)).toBeNull();
    expect(sourcehut.callsTo("poll")).toHaveLength(1);
    expect(await api.manifest(submitted.id)).toBe(MANIFEST);
    expect((await api.jobsPage(null)).results.map((summary) => summary.id)).toEqual([
      other.id,
      submitted.id,
    ]);
    expect(sourcehut.problems).toEqual([]);
  });

  test("the job list pages newest first with sourcehut's cursor", async () => {
    const sourcehut = startFakeSourcehut();
    const api = client(sourcehut);
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push((await api.submit(REQUEST)).id);
    const first = await api.jobsPage(null);
    expect(first.results).toHaveLength(25);
    expect(first.results[0]?.id).toBe(ids.at(-1));
    expect(first.cursor).not.toBeNull();
    const second = await api.jobsPage(first.cursor);
    expect(second.results.map((job) => job.id)).toEqual(ids.slice(0, 5).reverse());
    expect(second.cursor).toBeNull();
  });

  test("a refusal is an ApiError of kind refused quoting sourcehut, not ambiguous", async () => {
    const sourcehut = startFakeSourcehut();
    const error = await client(sourcehut)
      .submit({ ...REQUEST, manifest: "image: a\ntasks:\n  - Bad: x\n" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe("refused");
    expect((error as ApiError).ambiguous).toBe(false);
    expect((error as ApiError).message).toContain("invalid task name 'Bad'");
  });

  test("an unclear submit failure is ambiguous and never retried; a poll is retried", async () => {
    const sourcehut = startFakeSourcehut();
    const api = client(sourcehut);
    sourcehut.failNext("submit", 502, 1, { thenPerform: true });
    const error = await api.submit(REQUEST).catch((caught: unknown) => caught);
    expect((error as ApiError).ambiguous).toBe(true);
    expect(sourcehut.callsTo("submit")).toHaveLength(1);
    expect(sourcehut.jobs.size).toBe(1);
    sourcehut.failNext("poll", 503, 2);
    const polled = await api.jobs([sourcehut.lastJob().id]);
    expect(polled.get(sourcehut.lastJob().id)?.status).toBe("QUEUED");
    expect(sourcehut.callsTo("poll")).toHaveLength(3);
  });

  test("a refused token says what to fix and never shows the token", async () => {
    const sourcehut = startFakeSourcehut();
    const error = await client(sourcehut, "srht-pat-revoked0000000000000000000000000000")
      .jobs([1])
      .catch((caught: unknown) => caught);
    expect((error as ApiError).status).toBe(403);
    expect((error as ApiError).message).toContain("Invalid or expired OAuth 2.0 bearer token");
    expect((error as ApiError).message).toContain("builds.sr.ht/JOBS:RW");
    expect((error as ApiError).message).not.toContain("revoked0000");
  });

  test("a missing grant is Access denied at the field: LOGS:RO on logs, JOBS:RW on submit", async () => {
    const sourcehut = startFakeSourcehut();
    const { id } = await client(sourcehut).submit(REQUEST);
    sourcehut.start(id);
    const full = await client(sourcehut).jobLogs(id);
    expect(full.errors).toEqual([]);
    expect(full.data?.job?.log?.fullURL).toBe(`${sourcehut.url}/query/log/${id}/log`);
    const blind = await client(sourcehut, NO_LOGS_TOKEN).jobLogs(id);
    expect(blind.data?.job?.status).toBe("RUNNING");
    expect(blind.data?.job?.log).toBeNull();
    expect(accessDenied(blind.errors, "log")).toBe(true);
    const refused = await client(sourcehut, READ_ONLY_TOKEN)
      .submit(REQUEST)
      .catch((caught: unknown) => caught);
    expect((refused as ApiError).status).toBe(403);
    expect((refused as ApiError).message).toContain("Access denied");
  });

  test("grants: each probed without changing anything", async () => {
    const sourcehut = startFakeSourcehut();
    expect(await client(sourcehut).grants()).toEqual({
      "JOBS:RO": true,
      "JOBS:RW": true,
      "LOGS:RO": undefined,
      "SECRETS:RO": false,
    });
    const { id } = await client(sourcehut).submit(REQUEST);
    sourcehut.start(id);
    expect(await client(sourcehut).grants()).toMatchObject({ "LOGS:RO": true });
    expect(await client(sourcehut, NO_LOGS_TOKEN).grants()).toMatchObject({
      "JOBS:RW": true,
      "LOGS:RO": false,
    });
    expect(await client(sourcehut, READ_ONLY_TOKEN).grants()).toMatchObject({
      "JOBS:RO": true,
      "JOBS:RW": false,
    });
    expect(sourcehut.jobs.size).toBe(1);
    expect(sourcehut.job(id).status).toBe("RUNNING");
    expect(sourcehut.problems).toEqual([]);
  });

  test("cancel: refused for a queued job, done for a running one", async () => {
    const sourcehut = startFakeSourcehut();
    const api = client(sourcehut);
    const { id } = await api.submit(REQUEST);
    const queued = await api.cancel(id).catch((caught: unknown) => caught);
    expect((queued as ApiError).message).toContain("Found no running jobs");
    sourcehut.start(id);
    await api.cancel(id);
    expect(sourcehut.job(id).status).toBe("CANCELLED");
  });

  test("log files by byte range: absent before the start, bytes, nothing new past the end", async () => {
    const sourcehut = startFakeSourcehut();
    const api = client(sourcehut);
    const { id } = await api.submit(REQUEST);
    const path = `/query/log/${id}/log`;
    expect(await api.logChunk(path, 0, 16)).toEqual({ kind: "absent" });
    sourcehut.start(id);
    const whole = new TextEncoder().encode(sourcehut.job(id).logs.get("") ?? "");
    const first = await api.logChunk(path, 0, 16);
    expect(first).toEqual({ kind: "bytes", bytes: whole.subarray(0, 16), total: whole.length });
    const rest = await api.logChunk(path, 16, 1 << 20);
    expect(rest.kind === "bytes" && rest.bytes).toEqual(whole.subarray(16));
    expect(await api.logChunk(path, whole.length, 16)).toEqual({
      kind: "bytes",
      bytes: new Uint8Array(),
      total: whole.length,
    });
    expect(sourcehut.callsTo("log").map((call) => call.range)).toContain(
      `bytes=16-${16 + (1 << 20) - 1}`,
    );
  });
});

describe("the stand-in is builds.sr.ht's schema", () => {
  const post = (sourcehut: FakeSourcehut, query: string, variables: unknown = {}) =>
    fetch(`${sourcehut.url}/query`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${SOURCEHUT_TOKEN}` },
      body: JSON.stringify({ query, variables }),
    });

  test("an unknown field, argument or type mismatch is 422 GRAPHQL_VALIDATION_FAILED", async () => {
    const sourcehut = startFakeSourcehut();
    for (const [query, message] of [
      ["{ job(id: 1) { id colour } }", 'Cannot query field "colour" on type "Job".'],
      ["{ job(jobId: 1) { id } }", 'Unknown argument "jobId" on field "Query.job".'],
      [
        "query q($id: String!) { job(id: $id) { id } }",
        'Variable "$id" of type "String!" used in position expecting type "Int!".',
      ],
      ["{ job(id: 1) }", 'Field "job" of type "Job" must have a selection of subfields.'],
      [
        "{ job { id } }",
        'Field "job" argument "id" of type "Int!" is required, but it was not provided.',
      ],
    ]) {
      const response = await post(sourcehut, query ?? "");
      expect(response.status).toBe(422);
      expect(await response.json()).toEqual({
        errors: [{ message, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } }],
        data: null,
      });
    }
  });

  test("Access denied on a non-null field nulls its nullable parent", async () => {
    const sourcehut = startFakeSourcehut();
    sourcehut.tokens.set(SOURCEHUT_TOKEN, { user: "tackbot", grants: { JOBS: "RW" } });
    const response = await post(sourcehut, "{ version { major } secrets { cursor } }");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      data: null,
      errors: [{ message: "Access denied", path: ["secrets"] }],
    });
  });
});
