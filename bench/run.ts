/**
 * `bun run bench [-- --quick]`: every benchmark in bench/, one table, on this machine. Each
 * figure is measured beside its limit in the same run (a bare Bun server doing the least the
 * same request needs, a raw SQLite scan, a naive durable server; for the flat-cost rows, the
 * same measurement on a database a hundred times smaller). tack is the compiled binary with
 * default logging unless a row says otherwise; load comes from wrk or from processes of its own.
 * Rows are medians of 3 alternating runs with min–max; --quick runs once, on smaller databases,
 * in under two minutes. Loopback only.
 */
import { cpus, totalmem } from "node:os";
import { runFanout } from "./events.ts";
import { runFlat } from "./flat.ts";
import { runKnots } from "./knots.ts";
import { buildTack, printTable, type Row } from "./lib.ts";
import { runMemory } from "./memory.ts";
import { runQueryPipelines } from "./query-pipelines.ts";
import { runReplay } from "./replay.ts";
import { runStartup } from "./startup.ts";
import { runSteady } from "./steady.ts";
import { runWebhooks } from "./webhooks.ts";
import { runGitlabWebhooks } from "./webhooks-gitlab.ts";

const quick = process.argv.includes("--quick");
const started = performance.now();
await buildTack();
const commit = (await Bun.$`git rev-parse --short=12 HEAD`.quiet().nothrow().text()).trim();
const rows: Row[] = [];
const benches: [string, () => Promise<Row[]>][] = [
  ["replay", () => runReplay({ quick })],
  ["webhooks", () => runWebhooks({ quick })],
  ["steady stream", () => runSteady({ quick })],
  ["start-up", () => runStartup({ quick })],
  ["knots", () => runKnots({ quick })],
  ["flat costs", () => runFlat({ quick })],
  ["memory", () => runMemory({ quick })],
  ["queryPipelines", () => runQueryPipelines({ quick })],
];
if (!quick) {
  // Older measurements kept for comparison: in-process servers, clients in the driver.
  benches.push(
    ["burst fan-out (in-process)", runFanout],
    ["GitLab webhooks (in-process)", runGitlabWebhooks],
  );
}
for (const [name, bench] of benches) {
  console.error(`running ${name}… (${Math.round((performance.now() - started) / 1000)} s)`);
  rows.push(...(await bench()));
}
const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(
  `tack benchmarks${quick ? " (--quick)" : ""} — ${new Date().toISOString().slice(0, 10)}, commit ${commit}, Bun ${Bun.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${Math.round((performance.now() - started) / 1000)} s\n`,
);
printTable(rows);
