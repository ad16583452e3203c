/**
 * Owns `repos`, `members` and `collaborators`: what Jetstream taught us about who may use this
 * spindle. Every apply* is idempotent (upsert or delete keyed by the record's DID and rkey),
 * so replays after a cursor rewind are harmless.
 *
 * Who may run builds: the owner, and every DID the owner admitted with an
 * sh.tangled.spindle.member record for this instance. Knots are followed only for repos owned
 * by such a DID, so a stranger's repo record naming us cannot make tack dial arbitrary hosts.
 */
import { and, eq, inArray, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { collaborators, members, repos } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";
import type { CollaboratorRecord, RepoRecord, SpindleMemberRecord } from "./lexicons.ts";

export interface TrackedRepo {
  /** The owner's DID (the author of the sh.tangled.repo record). */
  did: string;
  rkey: string;
  name: string | null;
  knot: string;
  /** The repo's own DID; null for records that predate repo DIDs. */
  repoDid: string | null;
}

export type RepoOutcome = "tracked" | "untracked" | "repo-did-taken";

export class Membership {
  constructor(
    private readonly db: Db,
    private readonly self: { ownerDid: string; hostname: string },
  ) {}

  /**
   * A repo record naming this spindle is tracked; any other version of it is not. A repo DID
   * belongs to the first owner who registered it here: another owner's record claiming it is
   * refused ("repo-did-taken"), so nobody can take over someone else's repo by naming its DID.
   */
  applyRepo(tx: Tx, did: string, rkey: string, record: RepoRecord | undefined): RepoOutcome {
    const thisRecord = and(eq(repos.did, did), eq(repos.rkey, rkey));
    if (record?.spindle !== this.self.hostname) {
      tx.delete(repos).where(thisRecord).run();
      return "untracked";
    }
    const repoDid = record.repoDid ?? null;
    if (repoDid) {
      const holders = tx.select().from(repos).where(eq(repos.repoDid, repoDid)).all();
      if (holders.some((holder) => holder.did !== did)) {
        tx.delete(repos).where(thisRecord).run();
        return "repo-did-taken";
      }
      // The same owner may re-create the record under another key: the newest one wins.
      for (const holder of holders) {
        if (holder.rkey !== rkey) {
          tx.delete(repos)
            .where(and(eq(repos.did, did), eq(repos.rkey, holder.rkey)))
            .run();
        }
      }
    }
    const values = { name: record.name ?? null, knot: record.knot, repoDid };
    tx.insert(repos)
      .values({ did, rkey, ...values })
      .onConflictDoUpdate({ target: [repos.did, repos.rkey], set: values })
      .run();
    return "tracked";
  }

  /** Only the owner admits members, and only to this instance. */
  applyMember(tx: Tx, did: string, rkey: string, record: SpindleMemberRecord | undefined): void {
    if (did !== this.self.ownerDid || record?.instance !== this.self.hostname) {
      tx.delete(members)
        .where(and(eq(members.did, did), eq(members.rkey, rkey)))
        .run();
      return;
    }
    tx.insert(members)
      .values({ did, rkey, subject: record.subject })
      .onConflictDoUpdate({ target: [members.did, members.rkey], set: { subject: record.subject } })
      .run();
  }

  /**
   * Kept only for repos owned by an allowed DID (the repo's at-uri names its owner): anyone on
   * the network can write collaborator records, and we store just the ones that concern us.
   */
  applyCollaborator(
    tx: Tx,
    did: string,
    rkey: string,
    record: CollaboratorRecord | undefined,
  ): void {
    const repoOwner = record ? /^at:\/\/([^/]+)\//.exec(record.repo)?.[1] : undefined;
    if (!record || !repoOwner || !this.isAllowed(repoOwner)) {
      tx.delete(collaborators)
        .where(and(eq(collaborators.did, did), eq(collaborators.rkey, rkey)))
        .run();
      return;
    }
    tx.insert(collaborators)
      .values({ did, rkey, subject: record.subject, repo: record.repo })
      .onConflictDoUpdate({
        target: [collaborators.did, collaborators.rkey],
        set: { subject: record.subject, repo: record.repo },
      })
      .run();
  }

  /** The owner or an admitted member. */
  isAllowed(did: string): boolean {
    if (did === this.self.ownerDid) return true;
    return (
      this.db.select().from(members).where(eq(members.subject, did)).limit(1).get() !== undefined
    );
  }

  /**
   * The tracked repo with this repo DID whose owner may use this spindle: the repos tack acts
   * for (and whose knots it may dial) on anyone's request.
   */
  servedRepo(repoDid: string): TrackedRepo | undefined {
    const repo = this.repoByDid(repoDid);
    return repo && this.isAllowed(repo.did) ? repo : undefined;
  }

  /** The tracked repo with this repo DID, if any. */
  repoByDid(repoDid: string): TrackedRepo | undefined {
    return this.db.select().from(repos).where(eq(repos.repoDid, repoDid)).get();
  }

  /** The tracked repo `did/name` hosted on `knot`, if any (records that predate repo DIDs). */
  trackedRepo(did: string, name: string, knot: string): TrackedRepo | undefined {
    return this.db
      .select()
      .from(repos)
      .where(and(eq(repos.did, did), eq(repos.name, name), eq(repos.knot, knot)))
      .get();
  }

  /** Knots hosting at least one tracked repo of an allowed DID: the knots to follow. */
  followedKnots(): string[] {
    const allowed = this.db.select({ subject: members.subject }).from(members);
    const rows = this.db
      .selectDistinct({ knot: repos.knot })
      .from(repos)
      .where(or(eq(repos.did, this.self.ownerDid), inArray(repos.did, allowed)))
      .orderBy(repos.knot)
      .all();
    return rows.map((row) => row.knot);
  }

  /** Collaborators recorded for the repo at `repoUri` (at://<did>/sh.tangled.repo/<rkey>). */
  collaboratorsOf(repoUri: string): string[] {
    return this.db
      .select({ subject: collaborators.subject })
      .from(collaborators)
      .where(eq(collaborators.repo, repoUri))
      .all()
      .map((row) => row.subject);
  }
}
