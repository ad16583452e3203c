/**
 * The core's tables. A provider's own tables live in its folder (`src/providers/<name>/table.ts`);
 * drizzle.config.ts reads both, so `drizzle-kit generate` sees them all.
 * Each table has exactly one owner module, named above it; no other module writes SQL for it.
 */
import { index, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
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
    // Set once the provider accepted the workflow; null when it failed before reaching one
    // (no `tack:` block, unknown provider, bad options), whose logs are then the error itself.
    spawnedAt: int("spawned_at"),
    createdAt: int("created_at").notNull(),
    updatedAt: int("updated_at").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.knot, table.pipelineRkey, table.name] }),
    index("workflows_provider_status").on(table.provider, table.status),
  ],
);

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
 */
export const repos = sqliteTable(
  "repos",
  {
    did: text("did").notNull(),
    rkey: text("rkey").notNull(),
    name: text("name").notNull(),
    knot: text("knot").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.did, table.rkey] }),
    index("repos_owner_name_knot").on(table.did, table.name, table.knot),
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
 * Owner: src/pipeline/triggers.ts. Every sh.tangled.pipeline trigger accepted from a knot, keyed
 * by (knot, rkey) so a trigger is processed once, ever. `dispatched_at` stays null until every
 * workflow reached its provider; triggers left undispatched by a crash are finished at start.
 */
export const triggers = sqliteTable(
  "triggers",
  {
    knot: text("knot").notNull(),
    rkey: text("rkey").notNull(),
    record: text("record").notNull(),
    receivedAt: int("received_at").notNull(),
    dispatchedAt: int("dispatched_at"),
  },
  (table) => [primaryKey({ columns: [table.knot, table.rkey] })],
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
