/**
 * `bun run bench`: every benchmark in bench/, one table. Each figure is measured beside its
 * bare-Bun baseline in the same run, on this machine; the last column is tack's share of the
 * baseline (throughput: tack/bare; time and memory: bare/tack). Loopback only.
 */
import { cpus, totalmem } from "node:os";
import { runBacklog } from "./backlog.ts";
import { runFanout } from "./events.ts";
import { printTable, type Row } from "./lib.ts";
import { runMemory } from "./memory.ts";
import { runQueryPipelines } from "./query-pipelines.ts";
import { runStartup } from "./startup.ts";
import { runWebhooks } from "./webhooks.ts";

const rows: Row[] = [];
for (const [name, bench] of [
  ["fan-out", runFanout],
  ["webhooks", runWebhooks],
  ["backlog", runBacklog],
  ["queryPipelines", runQueryPipelines],
  ["startup", runStartup],
  ["memory", runMemory],
] as const) {
  console.error(`running ${name}…`);
  rows.push(...(await bench()));
}
const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `tack benchmarks — ${new Date().toISOString().slice(0, 10)}, Bun ${Bun.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB\n`,
);
printTable(rows);
