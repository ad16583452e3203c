/**
 * `bun bench/knots.ts [--quick]`: a knot's backlog of `sh.tangled.git.refUpdate` frames, sent
 * all at once the moment tack connects (as after an outage), into the compiled binary. One
 * frame in 100 (and, in a second row, one in 20) is a push to a repo that uses this spindle
 * (claimed durably; its workflow files are then read from the knot, which has none); the rest
 * are other repos' pushes, which a knot announces too. Measured: frames/s from the connection opening to the knot cursor, read from
 * the database by this process, reaching the last frame (the cursor is saved only with or
 * after the work it covers, so that is when the backlog is durably handled).
 *
 * The limit beside it: a bare Bun WebSocket client in its own process receiving and parsing the
 * same frames, with nothing stored. Median of 3 alternating runs, with min–max.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerWebSocket } from "bun";
import { openDb } from "../src/db/client.ts";
import { runMigrations } from "../src/db/migrate.ts";
import { encodeTid } from "../src/eventlog/tid.ts";
import { buildTack, type Row, spread, startTackBinary } from "./lib.ts";

const REPO_DID = "did:plc:benchknotrepo0000000000";
const OWNER = "did:plc:bench";

if (process.argv[2] === "bare-client")
  await bareClient(Number(process.argv[3]), Number(process.argv[4]));

/** The backlog: TIDs one millisecond apart, ending a minute ago. */
function backlog(count: number, trackedEvery: number): { frames: string[]; lastPosition: bigint } {
  const endMs = Date.now() - 60_000;
  const frames: string[] = [];
  let lastPosition = 0n;
  for (let i = 0; i < count; i++) {
    const micros = BigInt(endMs - count + i) * 1000n;
    const tracked = i % trackedEvery === trackedEvery - 1;
    const sha = (i + 1).toString(16).padStart(40, "0");
    frames.push(
      JSON.stringify({
        rkey: encodeTid(micros, 5),
        nsid: "sh.tangled.git.refUpdate",
        event: {
          ref: "refs/heads/main",
          oldSha: "0".repeat(40),
          newSha: sha,
          repo: tracked ? REPO_DID : `did:plc:benchother${String(i % 500).padStart(10, "0")}`,
          committerDid: OWNER,
          changedFiles: ["README.md"],
        },
      }),
    );
    lastPosition = micros * 1000n;
  }
  return { frames, lastPosition };
}

/** A knot stand-in: /events sends the backlog on connect; its repos have no workflows. */
function knotStandIn(frames: string[]) {
  let openedAt = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, srv) {
      const url = new URL(request.url);
      if (url.pathname === "/events") {
        return srv.upgrade(request, { data: undefined })
          ? undefined
          : new Response("upgrade", { status: 400 });
      }
      if (url.pathname === "/xrpc/sh.tangled.repo.getDefaultBranch")
        return Response.json({ name: "main", hash: "", when: "1970-01-01T00:00:00Z" });
      return Response.json({ error: "PathNotFound", message: "path not found" }, { status: 404 });
    },
    websocket: {
      open(ws: ServerWebSocket<unknown>) {
        openedAt = performance.now();
        ws.cork(() => {
          for (const frame of frames) ws.send(frame);
        });
      },
      message() {},
      perMessageDeflate: false,
    },
  });
  return {
    host: `127.0.0.1:${server.port}`,
    openedAt: () => openedAt,
    stop: () => server.stop(true),
  };
}

/** A database that follows the stand-in knot (a repo of the owner lives there), cursor set. */
function seed(dir: string, knot: string): string {
  const path = join(dir, `tack-${Math.random().toString(36).slice(2)}.db`);
  const opened = openDb(path);
  runMigrations(opened.db);
  opened.sqlite.run(
    "INSERT INTO repos (did, rkey, name, knot, repo_did) VALUES (?, '3m6mxh2znw222', 'app', ?, ?)",
    [OWNER, knot, REPO_DID],
  );
  opened.sqlite.run("INSERT INTO cursors (source, cursor) VALUES (?, 1)", [`knot:${knot}`]);
  opened.close();
  return path;
}

async function measureTack(dir: string, count: number, trackedEvery: number): Promise<number> {
  const { frames, lastPosition } = backlog(count, trackedEvery);
  const knot = knotStandIn(frames);
  const db = seed(dir, knot.host);
  const tack = await startTackBinary(db);
  const reader = new Database(db, { readonly: true, safeIntegers: true });
  const cursor = reader.query<{ cursor: bigint }, [string]>(
    "SELECT cursor FROM cursors WHERE source = ?",
  );
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if ((cursor.get(`knot:${knot.host}`)?.cursor ?? 0n) >= lastPosition) break;
      if (Date.now() > deadline) throw new Error("knots: tack did not reach the last frame");
      await Bun.sleep(2);
    }
    return count / ((performance.now() - knot.openedAt()) / 1000);
  } finally {
    reader.close();
    await tack.stop();
    knot.stop();
  }
}

async function measureBare(count: number, trackedEvery: number): Promise<number> {
  const { frames } = backlog(count, trackedEvery);
  const knot = knotStandIn(frames);
  const client = Bun.spawn(
    ["bun", import.meta.path, "bare-client", knot.host.split(":")[1] ?? "", String(count)],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const out = await new Response(client.stdout).text();
  knot.stop();
  const doneAt = Number(/done (\d+(?:\.\d+)?)/.exec(out)?.[1]);
  if (!Number.isFinite(doneAt)) throw new Error(`knots: bare client said ${out}`);
  // Both clocks are performance.timeOrigin-based wall time.
  return count / ((doneAt - (performance.timeOrigin + knot.openedAt())) / 1000);
}

async function bareClient(port: number, count: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/events`);
  let received = 0;
  ws.onmessage = (message) => {
    JSON.parse(String(message.data));
    if (++received === count) {
      process.stdout.write(`done ${performance.timeOrigin + performance.now()}\n`);
      ws.close();
    }
  };
  await new Promise((resolve) => {
    ws.onclose = resolve;
  });
  process.exit(0);
}

export async function runKnots(options: { quick?: boolean } = {}): Promise<Row[]> {
  await buildTack();
  const count = 20_000;
  const dir = mkdtempSync(join(tmpdir(), "tack-bench-knots-"));
  const rows: Row[] = [];
  try {
    for (const trackedEvery of options.quick ? [100] : [100, 20]) {
      const tack: number[] = [];
      const bare: number[] = [];
      for (let run = 0; run < (options.quick ? 1 : 3); run++) {
        bare.push(await measureBare(count, trackedEvery));
        tack.push(await measureTack(dir, count, trackedEvery));
      }
      const t = spread(tack);
      const b = spread(bare);
      rows.push({
        benchmark: `knot backlog of ${count.toLocaleString("en-US")} pushes, 1 in ${trackedEvery} for this spindle, to cursor durable`,
        unit: "frames/s",
        tack: t.median,
        baseline: b.median,
        tackRange: t,
        baselineRange: b,
        higherIsBetter: true,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.main && process.argv[2] !== "bare-client") {
  const { printTable } = await import("./lib.ts");
  printTable(await runKnots({ quick: process.argv.includes("--quick") }));
}
