/**
 * Fresh directories for tests' databases, on a memory file system where there is one: tack
 * commits with synchronous=FULL, and an fsync there costs nothing, which keeps the suite fast
 * without changing what it proves (a killed process loses nothing the kernel has, fsync or not;
 * no test cuts the power). Memory is no place to leave things: test/setup.ts removes them all
 * after the tests, and a script's process removes its own when it exits.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = process.env.TACK_TEST_TMPDIR ?? (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());
const made: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(ROOT, "tack-test-"));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.on("exit", removeTempDirs);
