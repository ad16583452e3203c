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

export const REPO_DID = "did:plc:repo0000000000000000000";

export interface CiNetwork {
  jetstream: FakeJetstream;
  knot: FakeKnot;
  service: TestTack;
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
  const service = await startTestTack({
    config: { jetstreamUrl: jetstream.url, ...config },
    overrides: {
      clock: compressedClock(),
      streams: { minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 10_000 },
      // The stand-in replays at once: a short quiet spell ends the start-up catch-up.
      jetstreamQuietMs: 100,
      ...overrides,
    },
  });
  defer(() => service[Symbol.asyncDispose]());
  await followedRepo(jetstream, knot, { repoDid: REPO_DID });
  return { jetstream, knot, service };
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
