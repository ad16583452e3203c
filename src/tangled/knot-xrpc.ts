/**
 * Reads a repo's files from its knot over the knot's XRPC (no git binary, no auth):
 * `sh.tangled.repo.tree` lists `.tangled/workflows` at a commit, `sh.tangled.repo.blob` reads
 * each file, `sh.tangled.repo.getDefaultBranch` names the default branch. `https://<knot>`, or
 * `http://` in dev mode.
 *
 * A knot is a remote peer: every call has a timeout, every body a size cap, every answer is
 * checked against its schema. A directory that does not exist means "no workflows"; any other
 * failure is a KnotXrpcError saying which knot and call failed and why (retryable or not).
 */

import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { readCapped as readBody } from "../net/read-capped.ts";

export const WORKFLOWS_DIR = ".tangled/workflows";
/** The most workflow files one pipeline takes (sh.tangled.ci.pipeline allows 50). */
export const MAX_WORKFLOW_FILES = 50;
/** Workflow files are small YAML; anything larger is refused rather than read. */
export const MAX_WORKFLOW_BYTES = 256 * 1024;
const MAX_TREE_BYTES = 1 << 20;
/** A blob answer carries the file base64-encoded at worst, inside JSON. */
const MAX_BLOB_BYTES = Math.ceil((MAX_WORKFLOW_BYTES * 4) / 3) + 16 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

/** A repo as knots' XRPC names it: its repo DID, or `ownerDid/name` for older repos. */
export type KnotRepoRef = { repoDid: string } | { did: string; name: string };

export interface WorkflowFile {
  /** The file name directly under .tangled/workflows, e.g. "test.yml". */
  name: string;
  content: string;
}

const TreeEntry = Type.Object({ name: Type.String(), mode: Type.String() });
const TreeAnswer = Type.Object({ files: Type.Union([Type.Array(TreeEntry), Type.Null()]) });
const BlobAnswer = Type.Object({
  content: Type.Optional(Type.String()),
  encoding: Type.Optional(Type.String()),
});
const DefaultBranchAnswer = Type.Object({ name: Type.String() });
const ErrorAnswer = Type.Object({ error: Type.String(), message: Type.Optional(Type.String()) });

export class KnotXrpcError extends Error {
  constructor(
    message: string,
    /** True when asking again later may succeed (network, 5xx, timeouts). */
    readonly retryable: boolean,
    /** The knot's XRPC error name, when it answered with one (e.g. RefNotFound). */
    readonly xrpcError?: string,
  ) {
    super(message);
  }
}

export interface KnotXrpcOptions {
  dev: boolean;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class KnotXrpc {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: KnotXrpcOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /**
   * Every file directly under .tangled/workflows at `ref` (a commit), in the knot's (git
   * tree) order; [] when the directory does not exist.
   */
  async workflowFiles(knot: string, repo: KnotRepoRef, ref: string): Promise<WorkflowFile[]> {
    const tree = await this.call(
      knot,
      "sh.tangled.repo.tree",
      { repo: repoParam(repo), ref, path: WORKFLOWS_DIR },
      TreeAnswer,
      MAX_TREE_BYTES,
      ["PathNotFound"],
    );
    if (!tree) return [];
    const names = (tree.files ?? []).filter((entry) => isFile(entry.mode)).map((e) => e.name);
    if (names.length > MAX_WORKFLOW_FILES) {
      throw new KnotXrpcError(
        `${knot}: ${WORKFLOWS_DIR} holds ${names.length} files; at most ${MAX_WORKFLOW_FILES} are run`,
        false,
      );
    }
    return Promise.all(
      names.map(async (name) => ({ name, content: await this.blob(knot, repo, ref, name) })),
    );
  }

  /** The repo's default branch name; "" when the knot cannot say. */
  async defaultBranch(knot: string, repo: KnotRepoRef): Promise<string> {
    try {
      const answer = await this.call(
        knot,
        "sh.tangled.repo.getDefaultBranch",
        { repo: repoParam(repo) },
        DefaultBranchAnswer,
        64 * 1024,
      );
      return answer?.name ?? "";
    } catch {
      return "";
    }
  }

  private async blob(knot: string, repo: KnotRepoRef, ref: string, name: string): Promise<string> {
    const answer = await this.call(
      knot,
      "sh.tangled.repo.blob",
      { repo: repoParam(repo), ref, path: `${WORKFLOWS_DIR}/${name}` },
      BlobAnswer,
      MAX_BLOB_BYTES,
    );
    const content = answer?.content ?? "";
    const text =
      answer?.encoding === "base64" ? Buffer.from(content, "base64").toString("utf8") : content;
    if (text.length > MAX_WORKFLOW_BYTES) {
      throw new KnotXrpcError(
        `${knot}: ${WORKFLOWS_DIR}/${name} is larger than ${MAX_WORKFLOW_BYTES} bytes`,
        false,
      );
    }
    return text;
  }

  /**
   * One GET. Resolves undefined when the knot answers with an XRPC error named in `absentOn`
   * (e.g. PathNotFound: the thing asked for does not exist, which is an answer, not a failure).
   */
  private async call<T extends TSchema>(
    knot: string,
    method: string,
    params: Record<string, string>,
    schema: T,
    maxBytes: number,
    absentOn: string[] = [],
  ): Promise<Static<T> | undefined> {
    const url = new URL(`${this.options.dev ? "http" : "https"}://${knot}/xrpc/${method}`);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    const where = `${knot}: ${method}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        headers: { accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new KnotXrpcError(`${where}: cannot reach the knot: ${reason}`, true);
    }
    const text = await readCapped(response, maxBytes, where);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new KnotXrpcError(
        `${where}: answered ${response.status} with a body that is not JSON`,
        response.status >= 500,
      );
    }
    if (!response.ok) {
      const named = Value.Check(ErrorAnswer, body) ? body : undefined;
      if (named && absentOn.includes(named.error)) return undefined;
      const detail = named
        ? `${named.error}${named.message ? `: ${named.message}` : ""}`
        : "no XRPC error";
      throw new KnotXrpcError(
        `${where}: answered ${response.status} (${detail})`,
        response.status >= 500 || response.status === 429,
        named?.error,
      );
    }
    if (!Value.Check(schema, body)) {
      throw new KnotXrpcError(`${where}: answer does not match the lexicon`, false);
    }
    return body;
  }
}

/** The `repo` parameter knots take: the repo DID, or `ownerDid/name`. */
export function repoParam(repo: KnotRepoRef): string {
  return "repoDid" in repo ? repo.repoDid : `${repo.did}/${repo.name}`;
}

/**
 * Regular files, executables and symlinks count as workflows (as git lists them); directories
 * and submodules do not. Newer knots send git's octal modes ("0100644"), older ones Go's
 * FileMode strings ("-rw-r--r--", "L---------" for a symlink).
 */
function isFile(mode: string): boolean {
  if (/^[0-7]+$/.test(mode)) {
    const type = Number.parseInt(mode, 8) & 0o170000;
    return type === 0o100000 || type === 0o120000;
  }
  return mode.startsWith("-") || mode.startsWith("L");
}

async function readCapped(response: Response, maxBytes: number, where: string): Promise<string> {
  const text = await readBody(response, maxBytes);
  if (text === undefined) {
    throw new KnotXrpcError(`${where}: answer larger than ${maxBytes} bytes`, false);
  }
  return text;
}
