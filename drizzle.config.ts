import { defineConfig } from "drizzle-kit";

// Only `drizzle-kit generate` is used: migrations are applied by the service itself at start
// (src/db/migrate.ts), and drizzle-kit cannot open bun:sqlite databases anyway.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});
