/** The webhook schemas accept GitHub's real payload shapes (test/fixtures/github). */
import { expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { WorkflowJobEvent, WorkflowRunEvent } from "../../../src/providers/github/schemas.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const dir = join(import.meta.dir, "../../fixtures/github");

test.each(readdirSync(dir).filter((name) => /^workflow_(run|job)\./.test(name)))(
  "%s matches its event schema",
  (name) => {
    const payload: unknown = JSON.parse(readFileSync(join(dir, name), "utf8"));
    const schema = name.startsWith("workflow_run") ? WorkflowRunEvent : WorkflowJobEvent;
    expect([...Value.Errors(schema, payload)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
  },
);
