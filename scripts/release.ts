/**
 * `bun run release`: the files operators download. Cross-compiles tack for every Linux a VPS is
 * likely to run (x64 needs AVX2; x64-baseline runs on older or masked CPUs; arm64), and macOS on
 * Apple silicon when this host can build it, into dist/; copies the deployment files the guide
 * installs (systemd units, backup timer, env example, nginx snippet, alert rules) beside them;
 * and writes SHA256SUMS covering every one of them, which `sha256sum -c` verifies. Bun fetches
 * each target's runtime from the npm registry once.
 */
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildBinary, currentCommit } from "./build.ts";

/** Published as they are in deploy/. */
const DEPLOY_FILES = [
  "tack.service",
  "tack-backup.service",
  "tack-backup.timer",
  "env.example",
  "nginx.conf",
  "tack-alerts.yml",
];

const REQUIRED = ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-arm64"];
const OPTIONAL = ["bun-darwin-arm64"];

const commit = await currentCommit();
const built: string[] = [];
for (const target of [...REQUIRED, ...OPTIONAL]) {
  try {
    const binary = await buildBinary(target, commit);
    built.push(binary);
    console.log(`built ${binary}`);
    // The source map is published beside its binary, so it is checksummed too.
    if (existsSync(`${binary}.map`)) built.push(`${binary}.map`);
  } catch (error) {
    if (REQUIRED.includes(target)) throw error;
    console.warn(`skipped ${target}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
for (const file of DEPLOY_FILES) {
  copyFileSync(join("deploy", file), join("dist", file));
  built.push(join("dist", file));
}
const sums = await Promise.all(
  built.map(async (path) => {
    const digest = new Bun.CryptoHasher("sha256")
      .update(await Bun.file(path).arrayBuffer())
      .digest("hex");
    return `${digest}  ${basename(path)}\n`;
  }),
);
writeFileSync("dist/SHA256SUMS", sums.join(""));
console.log(`wrote dist/SHA256SUMS (${built.length} files, commit ${commit})`);
