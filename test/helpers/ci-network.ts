/**
 * The Tangled side of a test of the sh.tangled.ci surface: a local Jetstream and knot, a real
 * tack on a compressed clock following a repo that has a repo DID, and small helpers to call
 * XRPC methods as the appview does.
 */

import type { Config } from "../../src/config.ts";
import type { TackOverrides } from "../../src/tack.ts";
import { compressedClock } from "./clock.ts";
import { FakeJetstream } from "./fake-jetstream.ts";
import { FakeKnot } from "./fake-knot.ts";
import { startTestTack, type TestTack } from "./tack.ts";
import { followedRepo } from "./tangled-network.ts";
import { until } from "./wait.ts";
import { newTid, OWNER, repoRecord } from "./wire.ts";

export const REPO_DID = "did:plc:repo0000000000000000000";

export interface CiNetwork {
  jetstream: FakeJetstream;
  knot: FakeKnot;
  service: TestTack;
  /** How the service was started, to start it again on the same database. */
  started: { config: Partial<Config>; overrides: TackOverrides };
}

/**
 * Starts the upstreams and tack, registers the owner's repo `app` with REPO_DID on the knot and
 * waits until tack follows it. `defer` registers teardown (see cleanupAfterEach).
 */
export async function ciNetwork(
  defer: (step: () => unknown) => void,
  overrides: TackOverrides = {},
  config: Partial<Config> = {},
): Promise<CiNetwork> {
  const jetstream = FakeJetstream.start();
  const knot = FakeKnot.start();
  defer(() => jetstream.stop());
  defer(() => knot.stop());
  const started = {
    config: { jetstreamUrl: jetstream.url, ...config },
    overrides: {
      clock: compressedClock(),
      streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      // The stand-in replays at once: a short quiet spell ends the start-up catch-up.
      jetstreamQuietMs: 100,
      ...overrides,
    },
  };
  const service = await startTestTack(started);
  defer(() => service[Symbol.asyncDispose]());
  await followedRepo(jetstream, knot, { repoDid: REPO_DID });
  return { jetstream, knot, service, started };
}

/**
 * Announces an sh.tangled.repo record on Jetstream (by `did`, the owner unless given; naming
 * this spindle unless told otherwise) and waits until tack has applied it, whatever it decided.
 * Returns the record's key.
 */
export async function announceRepo(
  network: CiNetwork,
  repo: { did?: string; name?: string; knot?: string; repoDid?: string; spindle?: string },
): Promise<string> {
  const rkey = newTid();
  const applied = network.jetstream.commit(
    repo.did ?? OWNER,
    "sh.tangled.repo",
    "create",
    rkey,
    repoRecord({
      name: repo.name,
      knot: repo.knot ?? network.knot.host,
      spindle: repo.spindle ?? "spindle.test",
      repoDid: repo.repoDid,
    }),
  );
  await until(() => network.service.tack.jetstream.lastEventUs >= applied, "repo record applied");
  return rkey;
}

/** A second knot, hosting another of the owner's repos, which tack follows. */
export async function secondKnot(
  network: CiNetwork,
  defer: (step: () => unknown) => void,
): Promise<FakeKnot> {
  const knot = FakeKnot.start();
  defer(() => knot.stop());
  await announceRepo(network, { name: "elsewhere", knot: knot.host });
  await until(() => knot.openConnections === 1, "second knot followed");
  return knot;
}

/** Stops the service and starts a new one on its database, as a restart would. */
export async function restart(
  network: CiNetwork,
  defer: (step: () => unknown) => void,
  overrides: TackOverrides = {},
): Promise<TestTack> {
  await network.service.tack.stop();
  const again = await startTestTack({
    dir: network.service.dir,
    config: network.started.config,
    overrides: { ...network.started.overrides, ...overrides },
  });
  defer(() => again[Symbol.asyncDispose]());
  return again;
}

export interface XrpcAnswer<T> {
  status: number;
  contentType: string | null;
  text: string;
  /** The JSON body as the caller expects it (undefined when it is not JSON). */
  body: T;
}

/** GET /xrpc/<method> with `params` (arrays become repeated parameters). */
export async function xrpcGet<T = XrpcErrorBody>(
  service: TestTack,
  method: string,
  params: Record<string, string | string[]>,
): Promise<XrpcAnswer<T>> {
  const url = new URL(`${service.http}/xrpc/${method}`);
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
  }
  const response = await fetch(url);
  const text = await response.text();
  let body: T;
  try {
    body = JSON.parse(text);
  } catch {
    body = JSON.parse("null");
  }
  return { status: response.status, contentType: response.headers.get("content-type"), text, body };
}

export interface XrpcErrorBody {
  error: string;
  message: string;
}
