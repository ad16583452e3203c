/**
 * Owns `repos`, `members` and `collaborators`: what Jetstream taught us about who may use this
 * spindle. Every apply* is idempotent (upsert or delete keyed by the record's DID and rkey),
 * so replays after a cursor rewind are harmless.
 *
 * Who may run builds: the owner, and every DID the owner admitted with an
 * sh.tangled.spindle.member record for this instance. Knots are followed only for repos owned
 * by such a DID, so a stranger's repo record naming us cannot make tack dial arbitrary hosts.
 */
import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { prepareOnce } from "../db/prepare-once.ts";
import { collaborators, knotCollaborators, members, repos } from "../db/schema.ts";
import type { Tx } from "../db/writer.ts";
import type {
  CollaboratorRecord,
  CollaboratorUpdate,
  RepoRecord,
  SpindleMemberRecord,
} from "./lexicons.ts";

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
  // Every knot frame asks these (knots announce every repo they host): prepared once.
  private readonly repoByDidQuery;
  private readonly memberQuery;

  constructor(
    private readonly db: Db,
    private readonly self: { ownerDid: string; hostname: string },
  ) {
    this.repoByDidQuery = prepareOnce(() =>
      db
        .select()
        .from(repos)
        .where(eq(repos.repoDid, sql.placeholder("repoDid")))
        .prepare(),
    );
    this.memberQuery = prepareOnce(() =>
      db
        .select({ subject: members.subject })
        .from(members)
        .where(eq(members.subject, sql.placeholder("did")))
        .limit(1)
        .prepare(),
    );
  }

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
   * Kept only when written by the owner or a member (anyone on the network can write
   * collaborator records; only records by people who may own repos here can matter). Whether a
   * record really grants rights is decided when asked: its author must own the repo it names.
   */
  applyCollaborator(
    tx: Tx,
    did: string,
    rkey: string,
    record: CollaboratorRecord | undefined,
  ): void {
    const thisRecord = and(eq(collaborators.did, did), eq(collaborators.rkey, rkey));
    if (!record || !this.isAllowed(did)) {
      tx.delete(collaborators).where(thisRecord).run();
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

  /**
   * A collaborator change announced by a knot; only the repo's own knot may announce it.
   * Returns false (changing nothing) when the repo is not tracked or lives on another knot.
   */
  applyKnotCollaborator(tx: Tx, knot: string, update: CollaboratorUpdate): boolean {
    const repo = this.repoByDid(update.repo);
    if (!repo || repo.knot !== knot) return false;
    const row = { repoDid: update.repo, subject: update.subject };
    if (update.op === "add") tx.insert(knotCollaborators).values(row).onConflictDoNothing().run();
    else {
      tx.delete(knotCollaborators)
        .where(
          and(
            eq(knotCollaborators.repoDid, row.repoDid),
            eq(knotCollaborators.subject, row.subject),
          ),
        )
        .run();
    }
    return true;
  }

  /**
   * Whether `actor` may push to (and run, trigger or cancel pipelines of) `repo`: its owner, a
   * collaborator named by a record the owner wrote, or one the repo's knot announced.
   */
  hasPushRights(actor: string, repo: TrackedRepo): boolean {
    if (actor === repo.did) return true;
    const names = [`at://${repo.did}/sh.tangled.repo/${repo.rkey}`];
    if (repo.repoDid) names.push(repo.repoDid);
    const byRecord = this.db
      .select({ subject: collaborators.subject })
      .from(collaborators)
      .where(
        and(
          eq(collaborators.did, repo.did),
          eq(collaborators.subject, actor),
          inArray(collaborators.repo, names),
        ),
      )
      .limit(1)
      .get();
    if (byRecord) return true;
    if (!repo.repoDid) return false;
    return (
      this.db
        .select({ subject: knotCollaborators.subject })
        .from(knotCollaborators)
        .where(
          and(eq(knotCollaborators.repoDid, repo.repoDid), eq(knotCollaborators.subject, actor)),
        )
        .limit(1)
        .get() !== undefined
    );
  }

  /** The owner or an admitted member. */
  isAllowed(did: string): boolean {
    if (did === this.self.ownerDid) return true;
    return this.memberQuery().get({ did }) !== undefined;
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
    return this.repoByDidQuery().get({ repoDid });
  }

  /** The tracked repo of the sh.tangled.repo record `did`/`rkey`, if any. */
  repoByRecord(did: string, rkey: string): TrackedRepo | undefined {
    return this.db
      .select()
      .from(repos)
      .where(and(eq(repos.did, did), eq(repos.rkey, rkey)))
      .get();
  }

  /** The tracked repo `did/name` on whatever knot, if any (repos that predate repo DIDs). */
  trackedRepoByName(did: string, name: string): TrackedRepo | undefined {
    return this.db
      .select()
      .from(repos)
      .where(and(eq(repos.did, did), eq(repos.name, name)))
      .get();
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
}
