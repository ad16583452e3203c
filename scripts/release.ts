/**
 * `bun run release`: the binaries operators download. Cross-compiles tack for every Linux a
 * VPS is likely to run (x64 needs AVX2; x64-baseline runs on older or masked CPUs; arm64), and
 * macOS on Apple silicon when this host can build it, into dist/, with a SHA256SUMS file that
 * `sha256sum -c` verifies. Bun fetches each target's runtime from the npm registry once.
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { buildBinary, currentCommit } from "./build.ts";

const REQUIRED = ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-arm64"];
const OPTIONAL = ["bun-darwin-arm64"];

const commit = await currentCommit();
const built: string[] = [];
for (const target of [...REQUIRED, ...OPTIONAL]) {
  try {
    built.push(await buildBinary(target, commit));
    console.log(`built ${built.at(-1)}`);
  } catch (error) {
    if (REQUIRED.includes(target)) throw error;
    console.warn(`skipped ${target}: ${error instanceof Error ? error.message : String(error)}`);
  }
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
console.log(`wrote dist/SHA256SUMS (${built.length} binaries, commit ${commit})`);
