/**
 * The operator's status page (#15): GET / from a browser shows health, knots, providers and
 * the last pipelines with their workflows; everyone else still gets the plain-text banner.
 * Rendered by a real headless Chromium (Debian's `chromium`, installed by .ci/run), which
 * loads the page from tack on 127.0.0.1 and nothing else.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupAfterEach } from "../helpers/cleanup.ts";
import { FakeJetstream } from "../helpers/fake-jetstream.ts";
import { FakeKnot } from "../helpers/fake-knot.ts";
import { startTestTack, tempDir } from "../helpers/tack.ts";
import { followedRepo, pushTrigger } from "../helpers/tangled-network.ts";
import { until } from "../helpers/wait.ts";

setDefaultTimeout(60_000);
const defer = cleanupAfterEach();
const CHROMIUM = Bun.which("chromium") ?? Bun.which("chromium-browser");
/** Kept after the run, for a person to look at. */
export const SCREENSHOT = join(tmpdir(), "tack-status-page.png");
if (!CHROMIUM) {
  console.warn(
    "status page: chromium is not installed here; skipping the browser test (.ci/run installs it)",
  );
}

/** The demo's pipeline: a push with one fake workflow that runs to success, and a broken one. */
async function serviceWithPipeline() {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  defer(() => jetstream.stop());
  defer(() => knot.stop());
  const service = await startTestTack({
    config: { jetstreamUrl: jetstream.url },
    overrides: { streams: { minBackoffMs: 10, maxBackoffMs: 100 } },
  });
  defer(() => service[Symbol.asyncDispose]());
  await followedRepo(jetstream, knot);
  const rkey = pushTrigger(knot, [
    { name: "ci.yml", raw: "engine: tack\ntack:\n  fake: { steps: 1 }\n" },
    { name: "<img src=x onerror=alert(1)>.yml", raw: "engine: tack\ntack:\n  nosuchci: {}\n" },
  ]);
  const id = { knot: knot.host, pipelineRkey: rkey, name: "ci.yml" };
  await until(() => service.tack.workflows.get(id)?.status === "success", "the workflow succeeded");
  return { service, rkey, knot };
}

async function chromium(args: string[]): Promise<string> {
  if (!CHROMIUM) throw new Error("no chromium");
  const child = Bun.spawn(
    [
      CHROMIUM,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${tempDir()}`,
      ...args,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  defer(() => child.kill("SIGKILL"));
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0)
    throw new Error(`chromium exited ${code}: ${await new Response(child.stderr).text()}`);
  return stdout;
}

test("curl and monitors still get the plain-text banner; a browser gets a self-contained page", async () => {
  const { service, rkey } = await serviceWithPipeline();
  const plain = await fetch(`${service.http}/`);
  expect(plain.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(await plain.text()).toContain("This is a tack server");

  const page = await fetch(`${service.http}/`, {
    headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
  });
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(page.headers.get("content-security-policy")).toStartWith("default-src 'none'");
  const html = await page.text();
  expect(html).toContain(`id="pipeline-${rkey}"`);
  expect(html).not.toMatch(/<script|<link|src=["']?http/i);
  expect(html).not.toContain("<img"); // a hostile workflow name is text, not markup
  expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;.yml");
  expect((await fetch(`${service.http}/nope`, { headers: { accept: "text/html" } })).status).toBe(
    404,
  );
});

test.skipIf(!CHROMIUM)(
  "headless Chromium renders the demo's pipeline with its workflows and statuses (#15)",
  async () => {
    const { service, rkey, knot } = await serviceWithPipeline();
    const started = Date.now();
    // One browser run prints the DOM and takes the screenshot.
    const dom = await chromium([
      "--dump-dom",
      `--screenshot=${SCREENSHOT}`,
      "--window-size=1200,900",
      `${service.http}/`,
    ]);
    const health = /<p class="status status-(\w+)" id="health">/.exec(dom)?.[1];
    expect(health).toBe("ok");
    const row =
      new RegExp(`<tr class="pipeline" id="pipeline-${rkey}">([\\s\\S]*?)</tr>`).exec(dom)?.[1] ??
      "";
    expect(row).toContain("did:plc:owner000000000000000000/app");
    expect(row).toContain("push main");
    expect(row).toMatch(/<li class="workflow" data-status="success">.*ci\.yml/);
    expect(row).toMatch(
      /<li class="workflow" data-status="failed">.*&lt;img src=x onerror=alert\(1\)&gt;\.yml/,
    );
    expect(dom).toContain(`<td>${knot.host}</td>`);
    expect(dom).toContain('<span class="chip">fake</span>');

    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(statSync(SCREENSHOT).mtimeMs).toBeGreaterThan(started);
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(1200); // width from the IHDR chunk
  },
);
