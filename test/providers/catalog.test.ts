/**
 * The provider kit's promise: a new CI is its folder, one line in the catalog and its docs.
 * Checked two ways: the tree (no core file names or imports a provider; every provider folder
 * names its roles the same way), and a descriptor that exists only in this test, which the
 * configuration, the help, `tack check` and the provider factory all learn without a change.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Type } from "@sinclair/typebox";
import { usage } from "../../src/cli.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { CATALOG, checkProviders, configuredProviders } from "../../src/providers/catalog.ts";
import { WebhookDeliveries } from "../../src/providers/deliveries.ts";
import { type ProviderDescriptor, requiredVariable } from "../../src/providers/provider.ts";
import { SpawnAttempts } from "../../src/providers/spawn-attempts.ts";
import { memoryTack } from "../helpers/memory.ts";
import { captureLogger } from "../helpers/tack.ts";

const SRC = join(import.meta.dir, "..", "..", "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The code of a file without its comments, so prose may still name a CI. */
function code(path: string): string {
  return readFileSync(path, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

describe("a provider is its folder", () => {
  test("outside its folder, only the catalog imports a provider or names it in code", () => {
    const offenders: string[] = [];
    for (const descriptor of CATALOG) {
      const folder = join(SRC, "providers", descriptor.name);
      for (const file of sources(SRC)) {
        if (file.startsWith(`${folder}/`) || file === join(SRC, "providers", "catalog.ts"))
          continue;
        const text = code(file);
        const imports = new RegExp(`from "[./]*(?:providers/)?${descriptor.name}/`).test(text);
        const named =
          text.includes(`"${descriptor.name}"`) || text.includes(`'${descriptor.name}'`);
        if (imports || named) offenders.push(`${relative(SRC, file)} → ${descriptor.name}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("every CI's folder names the same roles with the same files", () => {
    const folders = CATALOG.filter((descriptor) => descriptor.name !== "fake").map((descriptor) =>
      readdirSync(join(SRC, "providers", descriptor.name)).sort(),
    );
    expect(folders.length).toBeGreaterThanOrEqual(2);
    for (const files of folders) expect(files).toEqual(folders[0] ?? []);
    expect(folders[0]).toEqual(
      expect.arrayContaining([
        "index.ts",
        "config.ts",
        "options.ts",
        "request.ts",
        "spawn.ts",
        "client.ts",
        "webhook.ts",
        "verify.ts",
        "states.ts",
        "track.ts",
        "table.ts",
        "builds.ts",
        "reconcile.ts",
        "logs.ts",
        "cancel.ts",
        "check.ts",
      ]),
    );
  });
});

describe("a new descriptor is all the core needs", () => {
  const token = "smpl_7c1d0e9f8a2b3c4d5e6f7a8b9c0d1e2f";
  interface SampleConfig {
    token: string;
    url: string;
  }
  const sample = {
    name: "sample",
    title: "Sample CI",
    docs: "docs/sample.md",
    env: {
      TACK_SAMPLE_TOKEN: Type.Optional(
        Type.String({
          description: "a Sample CI token (enables the sample provider)",
          secret: true,
        }),
      ),
      TACK_SAMPLE_URL: Type.Optional(
        Type.String({ pattern: "^https?://", description: "the Sample CI API base URL" }),
      ),
    },
    enabledBy: "TACK_SAMPLE_TOKEN",
    configure: (env) =>
      env.TACK_SAMPLE_TOKEN === undefined
        ? undefined
        : {
            token: env.TACK_SAMPLE_TOKEN,
            url: requiredVariable(env, "TACK_SAMPLE_URL", "TACK_SAMPLE_TOKEN"),
          },
    secrets: (config) => [config.token],
    create: (_config, deps) => ({
      name: "sample",
      checkOptions: () => undefined,
      spawn: async () => {
        deps.log.info(`sample: spawned with ${token}`);
      },
      logs: async () => (async function* () {})(),
      cancel: async () => {},
      resume: async () => {},
      stop: async () => {},
    }),
    check: async (config) => [
      { name: "sample token", ok: false, detail: `Sample CI refused ${config.token}` },
    ],
  } satisfies ProviderDescriptor<"sample", SampleConfig>;
  const catalog = [...CATALOG, sample];
  const core = { TACK_HOSTNAME: "spindle.example.com", TACK_OWNER_DID: "did:plc:abc123" };

  test("configuration reads its variables, names what is missing and never echoes its secret", () => {
    expect(loadConfig(core, {}, catalog).config.providers).not.toHaveProperty("sample");
    const { config } = loadConfig(
      { ...core, TACK_SAMPLE_TOKEN: token, TACK_SAMPLE_URL: "https://ci.example" },
      {},
      catalog,
    );
    expect((config.providers as Record<string, unknown>).sample).toEqual({
      token,
      url: "https://ci.example",
    });
    expect(() => loadConfig({ ...core, TACK_SAMPLE_TOKEN: token }, {}, catalog)).toThrow(
      "TACK_SAMPLE_URL is required when TACK_SAMPLE_TOKEN is set",
    );
    expect(loadConfig({ ...core, TACK_SAMPLE_URL: "x" }, {}, CATALOG).unknownVariables).toEqual([
      "TACK_SAMPLE_URL",
    ]);
  });

  test("the help lists its variables and its guide", () => {
    expect(usage(catalog)).toContain(
      "  TACK_SAMPLE_*       -         Sample CI: TOKEN, URL (docs/sample.md)",
    );
    expect(usage(catalog)).toContain(
      "  sample       Sample CI, on with TACK_SAMPLE_TOKEN (docs/sample.md)",
    );
  });

  test("tack check runs its check, redacting its secret; the factory builds it guarded", async () => {
    const tack = memoryTack();
    const { log, lines } = captureLogger();
    const deps = {
      db: tack.database.db,
      writer: tack.writer,
      workflows: tack.workflows,
      log,
      clock: systemClock,
      metrics: new Metrics(),
      deliveries: new WebhookDeliveries(tack.database.db),
      attempts: new SpawnAttempts(tack.database.db, tack.writer),
      dev: false,
    };
    const configs = { sample: { token, url: "https://ci.example" } };
    const rows = await checkProviders(configs, { ...deps, log: silentLogger }, 1_000, catalog);
    expect(rows).toContainEqual({
      name: "sample token",
      ok: false,
      detail: "Sample CI refused [redacted]",
    });
    const [provider] = await configuredProviders(configs, deps, catalog);
    expect(provider?.name).toBe("sample");
    const workflow = {
      id: { knot: "k", pipelineRkey: "r", name: "w" },
      provider: "sample",
      options: {},
      context: {},
      status: "pending" as const,
      error: null,
      lastStatusSec: 0,
      spawned: false,
    };
    await provider?.spawn(workflow, {});
    expect(JSON.stringify(lines)).toContain("sample: spawned with [redacted]");
    tack.database.close();
  });
});
