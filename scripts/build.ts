/**
 * `bun run build`: compiles tack into one self-contained executable, dist/tack.
 *
 * - production mode (NODE_ENV is inlined at build time, so it must be set here);
 * - the drizzle/ migrations embedded with `assets` and applied at start (src/db/migrate.ts);
 * - no .env or bunfig.toml autoload: the binary reads only its real environment
 *   (systemd's EnvironmentFile), never a stray file in its working directory;
 * - the version and commit inlined for `tack version`;
 * - split into chunks: a module tack imports only when needed (DAG-CBOR for log streams, the
 *   signature check of service auth) stays out of start-up, with the Node built-ins it pulls in.
 *   The chunks are inside the binary; their source maps (third-party code only) are not kept.
 *
 * `bun scripts/build.ts bun-linux-arm64 …` cross-compiles to dist/tack-<target> instead.
 */
import { rmSync } from "node:fs";
import { $ } from "bun";

export async function currentCommit(): Promise<string> {
  return (await $`git rev-parse --short=12 HEAD`.nothrow().quiet().text()).trim() || "unknown";
}

/** Builds one binary; returns its path. Throws with Bun's messages when the build fails. */
export async function buildBinary(target: string | undefined, commit: string): Promise<string> {
  const outfile = target ? `dist/tack-${target.replace(/^bun-/, "")}` : "dist/tack";
  const result = await Bun.build({
    entrypoints: ["./src/main.ts"],
    minify: true,
    sourcemap: "linked",
    bytecode: true,
    splitting: true,
    format: "esm",
    define: {
      "process.env.NODE_ENV": JSON.stringify("production"),
      "process.env.TACK_BUILD_COMMIT": JSON.stringify(commit),
    },
    compile: {
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
      outfile,
      assets: ["drizzle"],
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success)
    throw new AggregateError(result.logs, `build for ${target ?? "this machine"} failed`);
  for (const output of result.outputs) {
    if (output.kind === "sourcemap" && /\/chunk-[^/]*\.map$/.test(output.path)) rmSync(output.path);
  }
  return outfile;
}

if (import.meta.main) {
  const commit = await currentCommit();
  const targets = process.argv.slice(2);
  for (const target of targets.length > 0 ? targets : [undefined]) {
    console.log(`built ${await buildBinary(target, commit)} (${commit})`);
  }
}
