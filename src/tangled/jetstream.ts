/**
 * Learns this spindle's repos, members and collaborators from Jetstream:
 * sh.tangled.repo, sh.tangled.spindle.member and
 * sh.tangled.repo.collaborator, as plain JSON frames.
 *
 * Each event is applied and the cursor (its time_us) saved in one transaction; a run of frames
 * that queued up (a replay after a restart, see ws-client.ts) is applied in one unit of work
 * with one cursor update, so it costs one commit, and a failure anywhere in it rolls the whole
 * run back for the reconnect to bring again. Events at or below the stored cursor are skipped, which makes the rewind on reconnect (a few seconds, as
 * Jetstream does not promise a gapless resume) harmless. A frame or record that does not
 * validate is logged and skipped (the cursor moves past it); a failure to commit is transient
 * and the event is read again after a reconnect.
 *
 * After any change to repos or members, `onKnotsChanged` receives the knots to follow now.
 */
import type { Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { OnCommit, Tx, Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { Cursors } from "./cursors.ts";
import {
  CollaboratorRecord,
  JetstreamEvent,
  NSID_COLLABORATOR,
  NSID_REPO,
  NSID_SPINDLE_MEMBER,
  RepoRecord,
  SpindleMemberRecord,
} from "./lexicons.ts";
import type { Membership } from "./membership.ts";
import { ReconnectingStream, type StreamOptions, type StreamState } from "./ws-client.ts";

export const JETSTREAM_CURSOR = "jetstream";

/** A record event as further collections receive it: its author and the commit's fields. */
export interface JetstreamRecordEvent {
  did: string;
  collection: string;
  rkey: string;
  operation: "create" | "update" | "delete";
  record?: unknown;
}
/** How far back (µs) a reconnect resumes before the stored cursor. */
export const JETSTREAM_REWIND_US = 5_000_000n;
/**
 * Events dated further ahead of this host's clock than this are refused. Those within it are
 * applied, but the cursor never moves past this host's "now": a stamp from the future would
 * otherwise become the cursor and every present-dated event after it would be skipped as
 * already seen.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;
const MEMBERSHIP = [NSID_SPINDLE_MEMBER, NSID_REPO, NSID_COLLABORATOR];

export interface JetstreamDeps {
  url: string;
  writer: Writer;
  cursors: Cursors;
  membership: Membership;
  log: Logger;
  onKnotsChanged: (knots: string[]) => void;
  /**
   * Records of further collections (pull requests), decided inside the same transaction as
   * the cursor; `collections` are added to the subscription.
   */
  records?: {
    collections: readonly string[];
    applyInTx(tx: Tx, onCommit: OnCommit, event: JetstreamRecordEvent): void;
  };
  stream?: Partial<Omit<StreamOptions, "url" | "onMessage" | "onMessages" | "log">>;
}

export class JetstreamConsumer {
  private readonly stream: ReconnectingStream;
  private readonly log: Logger;
  /** Unix µs of the last applied event, for lag reporting. */
  lastEventUs = 0;

  constructor(private readonly deps: JetstreamDeps) {
    this.log = deps.log.child({ component: "jetstream" });
    this.stream = new ReconnectingStream({
      ...deps.stream,
      url: () => this.url(),
      onMessages: (frames) => this.handleRun(frames),
      log: this.log,
    });
  }

  get connected(): boolean {
    return this.stream.connected;
  }

  /** Connection state for /healthz and /metrics (since when disconnected, and why). */
  state(): StreamState {
    return this.stream.state();
  }

  start(): void {
    this.stream.start();
  }

  stop(): Promise<void> {
    return this.stream.stop();
  }

  /**
   * Waits (at most `maxMs`) until the replay after a restart has reached the present: an event
   * from the last few seconds was applied, or the connection has been quiet for `quietMs`.
   * Started before the knots, this lets membership changes made while tack was down apply
   * before the knots' backlogs are judged against them. Resolves false on timeout.
   */
  async caughtUp(maxMs: number, quietMs = 1_000): Promise<boolean> {
    const startedUs = Date.now() * 1000;
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      if (this.lastEventUs >= startedUs - 5_000_000) return true;
      if (this.stream.connected && Date.now() - this.stream.lastActivityAt >= quietMs) return true;
      await Bun.sleep(25);
    }
    return false;
  }

  private collections(): string[] {
    return [...MEMBERSHIP, ...(this.deps.records?.collections ?? [])];
  }

  private url(): string {
    const url = new URL(this.deps.url);
    for (const collection of this.collections()) {
      url.searchParams.append("wantedCollections", collection);
    }
    const cursor = this.deps.cursors.get(JETSTREAM_CURSOR);
    if (cursor !== undefined && cursor > 0n) {
      const rewound = cursor - JETSTREAM_REWIND_US;
      url.searchParams.set("cursor", String(rewound > 0n ? rewound : 0n));
    }
    return url.toString();
  }

  private async handleRun(frames: string[]): Promise<void> {
    const events = frames.flatMap((data) => {
      const event = this.parse(data);
      return event ? [event] : [];
    });
    if (events.length === 0) return;
    let membershipChanged = false;
    const lastApplied = await this.deps.writer.write((tx, onCommit) => {
      let stored = this.deps.cursors.get(JETSTREAM_CURSOR) ?? 0n;
      let applied: JetstreamEvent | undefined;
      for (const event of events) {
        const timeUs = BigInt(event.time_us);
        if (timeUs <= stored) continue;
        if (this.apply(tx, onCommit, event)) membershipChanged = true;
        // Never past this host's "now" (see MAX_CLOCK_SKEW_MS).
        const nowUs = BigInt(Date.now()) * 1000n;
        stored = timeUs < nowUs ? timeUs : nowUs;
        applied = event;
      }
      if (applied) this.deps.cursors.save(tx, JETSTREAM_CURSOR, stored);
      return applied;
    });
    if (!lastApplied) return;
    this.lastEventUs = lastApplied.time_us;
    if (membershipChanged) this.deps.onKnotsChanged(this.deps.membership.followedKnots());
  }

  /** The frame as an event to apply, or undefined (logged) when it is not one. */
  private parse(data: string): JetstreamEvent | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.log.warn("jetstream: skipping a frame that is not JSON", { bytes: data.length });
      return undefined;
    }
    if (!Value.Check(JetstreamEvent, parsed)) {
      const error = Value.Errors(JetstreamEvent, parsed).First();
      this.log.warn("jetstream: skipping an invalid event", {
        reason: error ? `${error.path || "/"}: ${error.message}` : "invalid",
      });
      return undefined;
    }
    const nowMs = Date.now();
    if (parsed.time_us > (nowMs + MAX_CLOCK_SKEW_MS) * 1000) {
      this.log.warn("jetstream: skipping an event dated in the future", {
        time_us: parsed.time_us,
        ahead_s: Math.round(parsed.time_us / 1_000_000 - nowMs / 1000),
      });
      return undefined;
    }
    return parsed;
  }

  /** Returns true when repos or members changed (the knot set may have). */
  private apply(tx: Tx, onCommit: OnCommit, event: JetstreamEvent): boolean {
    const commit = event.commit;
    if (event.kind !== "commit" || !commit) return false;
    if (this.deps.records?.collections.includes(commit.collection)) {
      this.deps.records.applyInTx(tx, onCommit, { did: event.did, ...commit });
      return false;
    }
    if (!MEMBERSHIP.includes(commit.collection)) return false;
    const log = this.log.child({
      did: event.did,
      collection: commit.collection,
      rkey: commit.rkey,
      operation: commit.operation,
    });
    const deleting = commit.operation === "delete";
    switch (commit.collection) {
      case NSID_REPO: {
        const record = deleting ? undefined : this.validate(RepoRecord, commit.record, log);
        if (!deleting && !record) return false;
        const outcome = this.deps.membership.applyRepo(tx, event.did, commit.rkey, record);
        if (outcome === "repo-did-taken") {
          log.warn("jetstream: repo refused, its repo DID is registered by another owner", {
            repo_did: record?.repoDid,
          });
        }
        log.debug("jetstream: repo applied", { spindle: record?.spindle, knot: record?.knot });
        return true;
      }
      case NSID_SPINDLE_MEMBER: {
        const record = deleting
          ? undefined
          : this.validate(SpindleMemberRecord, commit.record, log);
        if (!deleting && !record) return false;
        this.deps.membership.applyMember(tx, event.did, commit.rkey, record);
        log.debug("jetstream: member applied", { subject: record?.subject });
        return true;
      }
      default: {
        const record = deleting ? undefined : this.validate(CollaboratorRecord, commit.record, log);
        if (!deleting && !record) return false;
        this.deps.membership.applyCollaborator(tx, event.did, commit.rkey, record);
        return false;
      }
    }
  }

  private validate<
    T extends typeof RepoRecord | typeof SpindleMemberRecord | typeof CollaboratorRecord,
  >(schema: T, record: unknown, log: Logger): Static<T> | undefined {
    if (Value.Check(schema, record)) return record;
    const error = Value.Errors(schema, record).First();
    log.warn("jetstream: skipping an invalid record", {
      reason: error ? `${error.path || "/"}: ${error.message}` : "invalid",
    });
    return undefined;
  }
}
