/**
 * The core's tables. A provider's own tables live in its folder (`src/providers/<name>/table.ts`);
 * drizzle.config.ts reads both, so `drizzle-kit generate` sees them all.
 * Each table has exactly one owner module, named above it; no other module writes SQL for it.
 */
import { sql } from "drizzle-orm";
import { blob, index, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { int, nanos } from "./columns.ts";

/**
 * Owner: src/eventlog/store.ts. The durable log served on /events.
 * `created` (Unix ns, strictly increasing) is the rowid, so cursor scans walk the primary key.
 */
export const events = sqliteTable("events", {
  created: nanos("created").primaryKey(),
  rkey: text("rkey").notNull().unique(),
  nsid: text("nsid").notNull(),
  event: text("event").notNull(),
});

/** Statuses a workflow can still leave (the partial indexes below name them literally). */
export const WORKFLOW_UNFINISHED = "status IN ('pending', 'running')";

/**
 * Owner: src/pipeline/workflows.ts. One row per workflow of a pipeline trigger: which provider
 * runs it, its latest status, and the whole second of that status's createdAt (docs/design.md, *One
 * status per second per workflow*).
 */
export const workflows = sqliteTable(
  "workflows",
  {
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    name: text("name").notNull(),
    provider: text("provider").notNull(),
    // Provider options from the workflow's `tack.<provider>` block, as JSON.
    options: text("options").notNull(),
    // Tangled trigger context the provider needs (commit, branch, repo), as JSON.
    context: text("context").notNull(),
    status: text("status").notNull(),
    error: text("error"),
    lastStatusSec: int("last_status_sec").notNull(),
    // `created` of the latest status event: retention never prunes it, so every workflow the
    // appview may still show keeps its current status on /events.
    lastEventCreated: nanos("last_event_created"),
    // createdAt of the first `running` and of the terminal status: startedAt and finishedAt of
    // the sh.tangled.ci.pipeline view.
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    // Set once the provider accepted the workflow; null when it failed before reaching one
    // (no `tack:` block, unknown provider, bad options), whose logs are then the error itself.
    spawnedAt: int("spawned_at"),
    createdAt: int("created_at").notNull(),
    updatedAt: int("updated_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.knot, table.pipelineRkey, table.name] }),
    // Only unfinished workflows: start-up resumes them without reading finished work.
    index("workflows_unfinished")
      .on(table.provider, table.status)
      .where(sql.raw(WORKFLOW_UNFINISHED)),
    // Retention of finished workflows, oldest first.
    index("workflows_finished_updated_at")
      .on(table.updatedAt)
      .where(sql.raw(`NOT (${WORKFLOW_UNFINISHED})`)),
  ],
);

/**
 * Owner: src/pipeline/workflows.ts (kept by triggers on `workflows`, see the migration that
 * creates it). How many workflows ended in each terminal status, so /metrics does not count
 * the table (unfinished ones are counted through their partial index).
 */
export const workflowCounts = sqliteTable("workflow_counts", {
  status: text("status").primaryKey(),
  count: int("count").notNull(),
});

/**
 * Owner: src/tangled/cursors.ts. Durable stream positions: "jetstream" (Unix µs of the last
 * applied event) and "knot:<host>" (Unix ns). Saved in the same transaction as the change the
 * event caused, so a crash never skips or half-applies an event.
 */
export const cursors = sqliteTable("cursors", {
  source: text("source").primaryKey(),
  cursor: nanos("cursor").notNull(),
});

/**
 * Owner: src/tangled/membership.ts. sh.tangled.repo records that name this spindle, keyed by
 * the record (author DID + rkey). A repo switched to another spindle or deleted is removed.
 * Today's records carry the repo's own DID (`repo_did`), by which knots and the appview name
 * the repo; older ones only a `name`, which today's records may omit.
 */
export const repos = sqliteTable(
  "repos",
  {
    did: text("did").notNull(),
    rkey: text("rkey").notNull(),
    name: text("name"),
    knot: text("knot").notNull(),
    repoDid: text("repo_did"),
  },
  (table) => [
    primaryKey({ columns: [table.did, table.rkey] }),
    index("repos_owner_name_knot").on(table.did, table.name, table.knot),
    uniqueIndex("repos_repo_did").on(table.repoDid),
  ],
);

/**
 * Owner: src/tangled/membership.ts. sh.tangled.spindle.member records authored by the owner
 * for this instance: `subject` may use the spindle.
 */
export const members = sqliteTable(
  "members",
  {
    did: text("did").notNull(),
    rkey: text("rkey").notNull(),
    subject: text("subject").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.did, table.rkey] }),
    index("members_subject").on(table.subject),
  ],
);

/**
 * Owner: src/tangled/membership.ts. sh.tangled.repo.collaborator records, for permission checks.
 */
export const collaborators = sqliteTable(
  "collaborators",
  {
    did: text("did").notNull(),
    rkey: text("rkey").notNull(),
    subject: text("subject").notNull(),
    repo: text("repo").notNull(),
  },
  (table) => [primaryKey({ columns: [table.did, table.rkey] })],
);

/**
 * Owner: src/pipeline/pipelines.ts. Every pipeline tack runs: those knots announce (their TID as
 * `rkey`) and those tack mints itself. Keyed by (knot, rkey), which makes a knot's pipeline run
 * once, ever. `created` is Unix ns on the event log's clock: it orders pipelines for
 * sh.tangled.ci.queryPipelines and is its cursor. `repo` is the repo DID, or the owner DID for
 * pipelines that predate repo DIDs: the key queryPipelines filters on. `dispatched_at` stays null
 * until every workflow reached its provider; a crash in between is finished at the next start.
 */
export const pipelines = sqliteTable(
  "pipelines",
  {
    created: nanos("created").primaryKey(),
    knot: text("knot").notNull(),
    rkey: text("rkey").notNull(),
    repo: text("repo").notNull(),
    kind: text("kind").notNull(),
    // The commit the pipeline runs on ("" when the trigger names none).
    commitSha: text("commit_sha").notNull(),
    // "knot" (announced by a knot) or "tack" (minted here and published on /events).
    origin: text("origin").notNull(),
    // The sh.tangled.pipeline record, as JSON.
    record: text("record").notNull(),
    receivedAt: int("received_at").notNull(),
    dispatchedAt: int("dispatched_at"),
  },
  (table) => [
    uniqueIndex("pipelines_knot_rkey").on(table.knot, table.rkey),
    index("pipelines_rkey").on(table.rkey),
    index("pipelines_repo_created").on(table.repo, table.created),
    index("pipelines_repo_kind_created").on(table.repo, table.kind, table.created),
    index("pipelines_repo_commit_created").on(table.repo, table.commitSha, table.created),
    // Only pipelines a crash left undispatched, oldest first: normally none, so pipelines that
    // are dispatched (all but a few) cost this index nothing when they are stored or pruned.
    index("pipelines_undispatched").on(table.created).where(sql.raw("dispatched_at IS NULL")),
    index("pipelines_received_at").on(table.receivedAt),
    // The greatest TID tack minted, read at start-up (knots' pipelines are most of the table).
    index("pipelines_tack_rkey").on(table.rkey).where(sql.raw("origin = 'tack'")),
  ],
);

/**
 * Owner: src/pipeline/pipelines.ts. How many pipelines each repo has of each trigger kind, kept
 * by triggers on `pipelines` (migration 0013), so queryPipelines' `total` for a repo's first
 * page is a lookup, not a count of every pipeline the repo ever had.
 */
export const pipelineCounts = sqliteTable(
  "pipeline_counts",
  {
    repo: text("repo").notNull(),
    kind: text("kind").notNull(),
    count: int("count").notNull(),
  },
  (table) => [primaryKey({ columns: [table.repo, table.kind] })],
);

/**
 * Owner: src/tangled/membership.ts. Collaborators a repo's own knot announced
 * (sh.tangled.repo.collaboratorUpdate), keyed by repo DID: push rights like record-based ones.
 */
export const knotCollaborators = sqliteTable(
  "knot_collaborators",
  {
    repoDid: text("repo_did").notNull(),
    subject: text("subject").notNull(),
  },
  (table) => [primaryKey({ columns: [table.repoDid, table.subject] })],
);

/**
 * Owner: src/pipeline/trigger-events.ts. Every push and pull request event that may become a
 * pipeline, keyed by (repo, ref, commit) so it runs once whoever announces it: a knot's
 * refUpdate, a legacy knot pipeline, a pull record on Jetstream, in any order, replayed or not.
 * `repo` is the repo DID (owner DID/name for repos without one); for pull requests `ref` is
 * `pull:<source>:<target>:<action>`. While `state` is "loading" tack reads the workflow files
 * from the knot (retried with backoff, durably); "done" ends it (with the pipeline that ran, if
 * any), "gave-up" after the files could not be read for ten minutes. `fallback` holds a legacy
 * knot pipeline for the same event, run instead if the files cannot be read.
 */
export const triggerEvents = sqliteTable(
  "trigger_events",
  {
    repo: text("repo").notNull(),
    ref: text("ref").notNull(),
    sha: text("sha").notNull(),
    knot: text("knot").notNull(),
    state: text("state").notNull(),
    // The trigger metadata to build the pipeline from, and the push's changed files, as JSON.
    trigger: text("trigger").notNull(),
    changedFiles: text("changed_files").notNull(),
    attempts: int("attempts").notNull(),
    nextAttemptAt: int("next_attempt_at"),
    lastError: text("last_error"),
    fallbackRkey: text("fallback_rkey"),
    fallback: text("fallback"),
    pipelineRkey: text("pipeline_rkey"),
    receivedAt: int("received_at").notNull(),
    finishedAt: int("finished_at"),
  },
  (table) => [
    primaryKey({ columns: [table.repo, table.ref, table.sha] }),
    index("trigger_events_state").on(table.state),
    index("trigger_events_finished_at").on(table.finishedAt),
  ],
);

/**
 * Owner: src/pipeline/pull-intake.ts. Branch pull requests on this spindle's repos, by the
 * at-uri of their sh.tangled.repo.pull record: the branches and the latest round's commit, so a
 * later status record (reopened, closed, merged) can run without reading the pull again.
 * `source_sha` is null until the latest round's patch has been read from the author's PDS.
 */
export const pulls = sqliteTable("pulls", {
  uri: text("uri").primaryKey(),
  author: text("author").notNull(),
  // The trigger_events repo key of the target repo.
  repo: text("repo").notNull(),
  sourceBranch: text("source_branch").notNull(),
  targetBranch: text("target_branch").notNull(),
  sourceSha: text("source_sha"),
  updatedAt: int("updated_at").notNull(),
});

/**
 * Owner: src/pipeline/pull-intake.ts. Pull request rounds whose commit is still to be read
 * from the author's PDS (the latest round's patch), committed with the Jetstream cursor that
 * delivered them so none is lost; retried with backoff, then given up.
 */
export const pullQueue = sqliteTable(
  "pull_queue",
  {
    uri: text("uri").notNull(),
    action: text("action").notNull(),
    // The blob CID of the round's patch.
    patchCid: text("patch_cid").notNull(),
    attempts: int("attempts").notNull(),
    nextAttemptAt: int("next_attempt_at"),
    lastError: text("last_error"),
    receivedAt: int("received_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.uri, table.action, table.patchCid] })],
);

/**
 * Owner: src/secrets/store.ts. A repo's CI secrets, by repo DID and key. `sealed` is the value
 * encrypted with AES-256-GCM (nonce ‖ ciphertext ‖ tag) under the spindle's secrets key, bound
 * to its repo and key: the value never rests in clear, nor in backups.
 */
export const secrets = sqliteTable(
  "secrets",
  {
    repoDid: text("repo_did").notNull(),
    key: text("key").notNull(),
    sealed: blob("sealed", { mode: "buffer" }).notNull(),
    createdAt: text("created_at").notNull(),
    createdBy: text("created_by").notNull(),
  },
  (table) => [primaryKey({ columns: [table.repoDid, table.key] })],
);

/**
 * Owner: src/secrets/tokens.ts. One-time tokens that let one workflow's build fetch its repo's
 * secrets once: only a SHA-256 of each token is kept, with the workflow it is for, when it
 * expires and when it was used.
 */
export const secretTokens = sqliteTable(
  "secret_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    repoDid: text("repo_did").notNull(),
    expiresAt: int("expires_at").notNull(),
    usedAt: int("used_at"),
  },
  (table) => [index("secret_tokens_expires_at").on(table.expiresAt)],
);

/**
 * Owner: src/providers/deliveries.ts. Webhook deliveries already accepted, per provider, so an
 * exact replay or a CI's redelivery is acknowledged without being applied twice.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    provider: text("provider").notNull(),
    deliveryId: text("delivery_id").notNull(),
    receivedAt: int("received_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.deliveryId] }),
    index("webhook_deliveries_received_at").on(table.receivedAt),
  ],
);

/**
 * Owner: src/providers/spawn-attempts.ts. A create request about to go to a CI, recorded before
 * it is sent: after a crash (or an unclear answer) it says a build may exist, so the provider
 * looks it up by its correlation key before creating another.
 */
export const spawnAttempts = sqliteTable(
  "spawn_attempts",
  {
    provider: text("provider").notNull(),
    knot: text("knot").notNull(),
    pipelineRkey: text("pipeline_rkey").notNull(),
    workflow: text("workflow").notNull(),
    attempts: int("attempts").notNull(),
    // Unix ms (tack's clock) of the latest attempt: a CI may list a new build only later.
    lastAttemptAt: int("last_attempt_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.provider, table.knot, table.pipelineRkey, table.workflow] }),
    index("spawn_attempts_last_attempt_at").on(table.lastAttemptAt),
  ],
);

/**
 * Owner: src/http/health.ts. One row rewritten by each /healthz probe: proof that a commit
 * (with its fsync) still goes through, not merely that the file opens.
 */
export const healthProbe = sqliteTable("health_probe", {
  id: int("id").primaryKey(),
  checkedAt: int("checked_at").notNull(),
});
