/**
 * A local knot on 127.0.0.1, written from Tangled's knot behaviour and independent of src/:
 *
 * - `GET /events` as a knot serves it: frames `{"event":{…},"nsid":"…","rkey":"<TID>"}` with
 *   sorted keys and no `created`; `?cursor=<ns>` replays events created after it, then live;
 *   no cursor means live only.
 * - The XRPC queries spindles read workflows with: `sh.tangled.repo.tree` (directory listing,
 *   git octal modes by default or older knots' "-rw-r--r--" strings), `sh.tangled.repo.blob`
 *   (file content as JSON) and `sh.tangled.repo.getDefaultBranch`, with the knot's error names
 *   (InvalidRequest, RepoNotFound, RefNotFound, PathNotFound, FileNotFound). A repo is named by
 *   its repo DID or, for older repos, `ownerDid/name`. Failures can be switched on.
 */
import { StreamStandIn } from "./stream-stand-in.ts";
import { newTid, sortedJson } from "./wire.ts";

export interface KnotFile {
  name: string;
  content: string;
  /** Git mode; "0100644" unless given. */
  mode?: string;
}

interface KnotRepo {
  defaultBranch: string;
  /** Commit → files under .tangled/workflows (undefined: the directory does not exist). */
  commits: Map<string, KnotFile[] | undefined>;
}

const WORKFLOWS = ".tangled/workflows";

export class FakeKnot extends StreamStandIn {
  readonly events: { created: bigint; frame: string }[] = [];
  /** Every XRPC request the knot received. */
  readonly xrpcRequests: URL[] = [];
  /** Older knots list modes as Go FileMode strings ("-rw-r--r--"). */
  legacyModes = false;
  private lastNs = 0n;
  private readonly repos = new Map<string, KnotRepo>();
  private failures: { remaining: number; status: number } = { remaining: 0, status: 502 };

  private constructor() {
    super("/events");
  }

  static start(): FakeKnot {
    return new FakeKnot();
  }

  /** The knot's hostname as repos and triggers name it. */
  get host(): string {
    return `127.0.0.1:${this.server.port}`;
  }

  /** Appends an event to the knot's log and sends it to live subscribers; returns its rkey. */
  push(nsid: string, event: unknown, rkey: string = newTid()): string {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastNs = now > this.lastNs ? now : this.lastNs + 1n;
    const frame = sortedJson({ event, nsid, rkey });
    this.events.push({ created: this.lastNs, frame });
    this.broadcast(frame);
    return rkey;
  }

  /**
   * Stores a commit of `repo` (a repo DID or `ownerDid/name`) whose .tangled/workflows holds
   * `files` (undefined: no such directory).
   */
  commit(repo: string, sha: string, files: KnotFile[] | undefined, defaultBranch = "main"): void {
    const existing = this.repos.get(repo) ?? { defaultBranch, commits: new Map() };
    existing.defaultBranch = defaultBranch;
    existing.commits.set(sha, files);
    this.repos.set(repo, existing);
  }

  /** The next `count` XRPC requests fail with `status` (a knot in trouble). */
  failXrpc(count: number, status = 502): void {
    this.failures = { remaining: count, status };
  }

  protected override framesAfter(cursor: string): string[] {
    return this.events
      .filter((event) => event.created > BigInt(cursor))
      .map((event) => event.frame);
  }

  protected override handleHttp(request: Request, url: URL): Response | undefined {
    if (!url.pathname.startsWith("/xrpc/")) return undefined;
    this.xrpcRequests.push(url);
    if (request.method !== "GET") return xrpcError(405, "InvalidRequest", "method not allowed");
    if (this.failures.remaining > 0) {
      this.failures.remaining--;
      return new Response("upstream trouble", { status: this.failures.status });
    }
    const method = url.pathname.slice("/xrpc/".length);
    const repoParam = url.searchParams.get("repo") ?? "";
    if (!repoParam.startsWith("did:")) {
      return xrpcError(
        400,
        "InvalidRequest",
        "missing or invalid repo parameter, expected a repo DID",
      );
    }
    const repo = this.repos.get(repoParam);
    if (!repo) return xrpcError(400, "RepoNotFound", "failed to access repository");
    if (method === "sh.tangled.repo.getDefaultBranch") {
      return Response.json({ name: repo.defaultBranch, hash: "", when: "1970-01-01T00:00:00Z" });
    }
    const ref = url.searchParams.get("ref") ?? "";
    const path = url.searchParams.get("path");
    if (method === "sh.tangled.repo.tree") {
      if (!repo.commits.has(ref)) return xrpcError(404, "RefNotFound", "reference not found");
      const files = repo.commits.get(ref);
      if (path !== WORKFLOWS || !files) return xrpcError(404, "PathNotFound", "path not found");
      return Response.json({
        dotdot: ".tangled",
        // Git lists a tree's entries in byte order of their names.
        files: [...files]
          .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
          .map((file) => ({
            mode: this.mode(file.mode ?? "0100644"),
            name: file.name,
            size: Buffer.byteLength(file.content),
          })),
        parent: WORKFLOWS,
        readme: { contents: "", filename: "" },
        ref,
      });
    }
    if (method === "sh.tangled.repo.blob") {
      if (!path) return xrpcError(400, "InvalidRequest", "missing path parameter");
      if (!repo.commits.has(ref)) return xrpcError(404, "RefNotFound", "reference not found");
      const file = repo.commits.get(ref)?.find((f) => `${WORKFLOWS}/${f.name}` === path);
      if (!file) return xrpcError(404, "FileNotFound", "file not found");
      return Response.json({
        content: file.content,
        encoding: "utf-8",
        isBinary: false,
        path,
        ref,
        size: Buffer.byteLength(file.content),
      });
    }
    return xrpcError(404, "MethodNotImplemented", "method not implemented");
  }

  private mode(octal: string): string {
    if (!this.legacyModes) return octal;
    if (octal === "0040000") return "drwxr-xr-x";
    if (octal === "0120000") return "L---------";
    return octal === "0100755" ? "-rwxr-xr-x" : "-rw-r--r--";
  }
}

function xrpcError(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}
