/**
 * Every table tack keeps, in one place so `drizzle-kit generate` sees them all.
 * Each table has exactly one owner module, named above it; no other module writes SQL for it.
 */
import { customType, index, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

// The database is opened with safeIntegers (src/db/client.ts): SQLite integers arrive as
// bigint, so Unix-nanosecond values above 2^53 survive exactly. These two column types make
// the choice explicit per column: `nanos` stays bigint, `int` is a small number.
const nanos = customType<{ data: bigint; driverData: bigint | number }>({
  dataType: () => "integer",
  fromDriver: (value) => BigInt(value),
});
const int = customType<{ data: number; driverData: bigint | number }>({
  dataType: () => "integer",
  fromDriver: (value) => Number(value),
});

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
 * runs it, its latest status, and the whole second of that status's createdAt (decision 5).
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
