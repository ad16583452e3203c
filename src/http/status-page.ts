/**
 * The operator's status page: what GET / shows a browser (`Accept: text/html`). One
 * server-rendered HTML document with its style inline: no script, no external asset, no build
 * step (its Content-Security-Policy forbids anything else). It shows the health report, the
 * followed knots, the providers and the last pipelines with each workflow's status.
 *
 * Everything shown comes from records strangers write (repo names, refs, workflow names,
 * errors), so every value is escaped. The page is public, like the statuses on /events it
 * summarises; it is rendered at most once per RENDER_TTL_MS, so a visitor refreshing in a loop
 * costs one health probe and two indexed reads per interval, not per request.
 */
import type { HealthReport } from "./health.ts";

/** How many pipelines the page lists. */
export const STATUS_PAGE_PIPELINES = 50;
const RENDER_TTL_MS = 2_000;

export interface StatusWorkflow {
  name: string;
  status: string;
  error: string | null;
}

export interface StatusPipeline {
  rkey: string;
  knot: string;
  /** Who and what: the repo's DID and name when the trigger names it. */
  repo: string;
  kind: string;
  /** Branch or tag, or the pull request's branches. */
  ref: string;
  commit: string;
  /** Wall-clock ms the pipeline was recorded. */
  createdMs: number;
  workflows: StatusWorkflow[];
}

/** What the page reads; tack.ts wires it to the live components (a seam tests can fill). */
export interface StatusPageSource {
  hostname: string;
  health: () => Promise<HealthReport>;
  knots: () => { knot: string; connected: boolean }[];
  recentPipelines: (limit: number) => StatusPipeline[];
}

export function createStatusPage(source: StatusPageSource): () => Promise<string> {
  let cached: { html: Promise<string>; at: number } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= RENDER_TTL_MS) {
      cached = { html: render(source, now), at: now };
    }
    return cached.html;
  };
}

async function render(source: StatusPageSource, now: number): Promise<string> {
  const health = await source.health();
  const pipelines = source.recentPipelines(STATUS_PAGE_PIPELINES);
  const knots = source.knots();
  const down = new Map(health.knots.disconnected.map((knot) => [knot.knot, knot]));
  const jetstream = health.jetstream.connected
    ? `connected${health.jetstream.lag_seconds === null ? "" : `, newest event ${ago(health.jetstream.lag_seconds)}`}`
    : `disconnected${health.jetstream.disconnected_seconds === null ? "" : ` for ${duration(health.jetstream.disconnected_seconds)}`}${health.jetstream.last_error ? ` (${health.jetstream.last_error})` : ""}`;
  const database = health.database.writable
    ? "writable"
    : `not writable: ${health.database.error ?? "unknown"}`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>tack · ${e(source.hostname)} · ${e(health.status)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>tack <span class="host">${e(source.hostname)}</span></h1>
  <p class="status status-${e(health.status)}" id="health">${e(health.status)}</p>
  <p class="build">version ${e(health.version)} · commit ${e(health.commit)} · schema ${health.schema_version} · ${e(new Date(now).toISOString().replace(/\.\d+Z$/, "Z"))}</p>
</header>
${
  health.reasons.length > 0
    ? `<section><h2>Problems</h2><ul class="reasons">${health.reasons.map((reason) => `<li>${e(reason)}</li>`).join("")}</ul></section>`
    : ""
}
<section class="grid">
  <div><h2>Database</h2><p>${e(database)}</p></div>
  <div><h2>Jetstream</h2><p>${e(jetstream)}</p></div>
  <div><h2>Providers</h2><p>${health.providers.map((name) => `<span class="chip">${e(name)}</span>`).join(" ") || "none"}</p></div>
</section>
<section>
  <h2>Knots <span class="count">${knots.length} followed, ${health.knots.connected} connected</span></h2>
  ${
    knots.length === 0
      ? `<p class="empty">No knot followed yet: a repo must name this spindle.</p>`
      : `<table id="knots"><thead><tr><th>knot</th><th>connection</th></tr></thead><tbody>${knots
          .map((knot) => {
            const lost = down.get(knot.knot);
            const state = knot.connected
              ? `<span class="status-ok">connected</span>`
              : `<span class="status-degraded">disconnected${lost ? ` for ${e(duration(lost.seconds))}` : ""}${lost?.error ? ` (${e(lost.error)})` : ""}</span>`;
            return `<tr><td>${e(knot.knot)}</td><td>${state}</td></tr>`;
          })
          .join("")}</tbody></table>`
  }
</section>
<section>
  <h2>Pipelines <span class="count">the last ${STATUS_PAGE_PIPELINES}</span></h2>
  ${
    pipelines.length === 0
      ? `<p class="empty">No pipeline yet.</p>`
      : `<table id="pipelines"><thead><tr><th>when</th><th>repo</th><th>trigger</th><th>workflows</th></tr></thead><tbody>${pipelines
          .map((pipeline) => pipelineRow(pipeline, now))
          .join("")}</tbody></table>`
  }
</section>
</body>
</html>
`;
}

function pipelineRow(pipeline: StatusPipeline, now: number): string {
  const workflows = pipeline.workflows
    .map(
      (workflow) =>
        `<li class="workflow" data-status="${e(workflow.status)}"><span class="chip wf-${e(workflow.status)}">${e(workflow.status)}</span> ${e(workflow.name)}${
          workflow.error ? `<div class="error">${e(workflow.error)}</div>` : ""
        }</li>`,
    )
    .join("");
  return `<tr class="pipeline" id="pipeline-${e(pipeline.rkey)}">
<td title="${e(new Date(pipeline.createdMs).toISOString())}">${e(ago((now - pipeline.createdMs) / 1000))}<div class="sub">${e(pipeline.rkey)}</div></td>
<td>${e(pipeline.repo)}<div class="sub">${e(pipeline.knot)}</div></td>
<td>${e(pipeline.kind)} ${e(pipeline.ref)}<div class="sub">${e(pipeline.commit.slice(0, 12))}</div></td>
<td><ul class="workflows">${workflows || `<li class="empty">no workflow</li>`}</ul></td>
</tr>`;
}

function e(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function ago(seconds: number): string {
  return seconds < 1 ? "just now" : `${duration(seconds)} ago`;
}

const STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; --line: #d0d7de55; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0; } h1 .host { color: var(--muted); font-weight: 400; }
h2 { font-size: 15px; margin: 0 0 8px; } h2 .count { color: var(--muted); font-weight: 400; font-size: 13px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 12px; margin-bottom: 16px; }
header .build { color: var(--muted); margin: 0; flex-basis: 100%; font-size: 12px; }
section { margin: 0 0 20px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 16px; }
.grid p { margin: 0; }
.status { margin: 0; padding: 2px 10px; border-radius: 999px; font-weight: 600; color: #fff; }
p.status-ok { background: var(--ok); } p.status-degraded { background: var(--warn); }
p.status-unavailable, p.status-stopping { background: var(--bad); }
span.status-ok { color: var(--ok); } span.status-degraded { color: var(--warn); }
.reasons { margin: 0; padding-left: 18px; color: var(--warn); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
.sub { color: var(--muted); font-size: 12px; font-family: ui-monospace, monospace; }
.workflows { list-style: none; margin: 0; padding: 0; }
.workflow { margin: 0 0 4px; }
.chip { display: inline-block; padding: 0 8px; border-radius: 999px; border: 1px solid var(--line); font-size: 12px; }
.wf-success { background: var(--ok); color: #fff; } .wf-failed, .wf-timeout { background: var(--bad); color: #fff; }
.wf-running { background: #0969da; color: #fff; } .wf-pending { background: var(--muted); color: #fff; }
.wf-cancelled { background: var(--warn); color: #fff; }
.error { color: var(--bad); font-size: 12px; white-space: pre-wrap; }
.empty { color: var(--muted); }
`;
