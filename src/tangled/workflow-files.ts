/**
 * The workflow files of a repo at a commit, read from its knot (src/tangled/knot-xrpc.ts) and
 * kept: a commit's files never change, so each (repo, commit) is fetched once while it stays in
 * a small cache bounded by bytes. Concurrent asks for the same commit share one fetch, and at
 * most a few fetches run at once with a bounded queue behind them: anonymous callers
 * (describeWorkflowDefinition needs no auth) cannot make tack flood a knot or fill its memory.
 */
import { type KnotRepoRef, type KnotXrpc, repoParam, type WorkflowFile } from "./knot-xrpc.ts";

const MAX_CONCURRENT = 4;
const MAX_QUEUED = 64;
const CACHE_BYTES = 16 << 20;

/** The fetch queue is full: the caller should try again shortly (503). */
export class WorkflowFilesBusyError extends Error {}

export interface RepoAtKnot {
  knot: string;
  ref: KnotRepoRef;
}

export class WorkflowFiles {
  private readonly cache = new Map<string, { files: WorkflowFile[]; bytes: number }>();
  private cachedBytes = 0;
  private readonly inFlight = new Map<string, Promise<WorkflowFile[]>>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly knots: KnotXrpc) {}

  /** The files directly under .tangled/workflows at `sha`; [] when there are none. */
  async load(repo: RepoAtKnot, sha: string): Promise<WorkflowFile[]> {
    const key = `${repo.knot}\u0000${repoParam(repo.ref)}\u0000${sha}`;
    const cached = this.cache.get(key);
    if (cached) {
      // Map order is recency order: touch it.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached.files;
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const fetching = this.fetch(repo, sha).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, fetching);
    const files = await fetching;
    this.remember(key, files);
    return files;
  }

  /** The repo's default branch ("" when its knot cannot say); not cached, branches move. */
  defaultBranch(repo: RepoAtKnot): Promise<string> {
    return this.knots.defaultBranch(repo.knot, repo.ref);
  }

  private async fetch(repo: RepoAtKnot, sha: string): Promise<WorkflowFile[]> {
    await this.slot();
    try {
      return await this.knots.workflowFiles(repo.knot, repo.ref, sha);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private async slot(): Promise<void> {
    if (this.running < MAX_CONCURRENT) {
      this.running++;
      return;
    }
    if (this.waiting.length >= MAX_QUEUED) {
      throw new WorkflowFilesBusyError("too many workflow reads in progress; try again shortly");
    }
    // The finishing fetch hands its slot over: `running` stays the same.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private remember(key: string, files: WorkflowFile[]): void {
    const bytes = files.reduce((sum, file) => sum + file.name.length + file.content.length, 0);
    if (bytes > CACHE_BYTES / 4 || this.cache.has(key)) return;
    this.cache.set(key, { files, bytes });
    this.cachedBytes += bytes;
    for (const [oldest, entry] of this.cache) {
      if (this.cachedBytes <= CACHE_BYTES) break;
      this.cache.delete(oldest);
      this.cachedBytes -= entry.bytes;
    }
  }
}

/** Where a tracked repo's files are read: its knot, under its repo DID when it has one. */
export function repoAtKnot(repo: {
  knot: string;
  did: string;
  name: string | null;
  repoDid: string | null;
}): RepoAtKnot {
  return {
    knot: repo.knot,
    ref: repo.repoDid ? { repoDid: repo.repoDid } : { did: repo.did, name: repo.name ?? "" },
  };
}
