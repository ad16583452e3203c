import { defineConfig } from "drizzle-kit";

// Only `drizzle-kit generate` is used: migrations are applied by the service itself at start
// (src/db/migrate.ts), and drizzle-kit cannot open bun:sqlite databases anyway. A provider's
// tables live in its own folder, so a new provider adds its table.ts and nothing here.
export default defineConfig({
  dialect: "sqlite",
  schema: ["./src/db/schema.ts", "./src/providers/*/table.ts"],
  out: "./drizzle",
});
