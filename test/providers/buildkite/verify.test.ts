/**
 * Webhook authentication on its own: signatures made with node:crypto (sign-buildkite.ts),
 * checked by src/providers/buildkite/verify.ts.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { MAX_SIGNATURE_AGE_S, verifyDelivery } from "../../../src/providers/buildkite/verify.ts";
import { buildkiteSignature } from "../../helpers/sign-buildkite.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const SECRET = "s3cret-webhook-token";
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = '{"event":"build.running","build":{"id":"b"}}';
const bytes = (text: string) => new TextEncoder().encode(text);

function signed(header: string, event = "build.running"): Headers {
  return new Headers({ "x-buildkite-event": event, "x-buildkite-signature": header });
}

const signature = { webhookSecret: SECRET, webhookMode: "signature" } as const;
const token = { webhookSecret: SECRET, webhookMode: "token" } as const;

describe("signature mode", () => {
  test("accepts Buildkite's signature over <timestamp>.<body>", () => {
    const verdict = verifyDelivery(
      signature,
      signed(buildkiteSignature(SECRET, BODY, NOW_S)),
      bytes(BODY),
      NOW_MS,
    );
    expect(verdict.ok).toBe(true);
  });

  test("accepts the fields in either order and with upper-case hex", () => {
    const [ts, sig] = buildkiteSignature(SECRET, BODY, NOW_S).split(",");
    const header = `${sig?.toUpperCase().replace("SIGNATURE=", "signature=")},${ts}`;
    expect(verifyDelivery(signature, signed(header), bytes(BODY), NOW_MS).ok).toBe(true);
  });

  test("refuses a timestamp just outside the window, either way, and accepts its edge", () => {
    for (const [offset, ok] of [
      [-MAX_SIGNATURE_AGE_S - 1, false],
      [MAX_SIGNATURE_AGE_S + 1, false],
      [-MAX_SIGNATURE_AGE_S, true],
      [MAX_SIGNATURE_AGE_S, true],
    ] as const) {
      const header = buildkiteSignature(SECRET, BODY, NOW_S + offset);
      expect({
        offset,
        ok: verifyDelivery(signature, signed(header), bytes(BODY), NOW_MS).ok,
      }).toEqual({
        offset,
        ok,
      });
    }
  });

  test("refuses a wrong secret, another body, a short or missing signature", () => {
    const good = buildkiteSignature(SECRET, BODY, NOW_S);
    const cases = [
      buildkiteSignature("other", BODY, NOW_S),
      good.slice(0, -2),
      `timestamp=${NOW_S}`,
      `signature=${good.split("signature=")[1]}`,
      `timestamp=abc,signature=${good.split("signature=")[1]}`,
      "",
    ];
    for (const header of cases) {
      expect(verifyDelivery(signature, signed(header), bytes(BODY), NOW_MS).ok).toBe(false);
    }
    expect(verifyDelivery(signature, signed(good), bytes(`${BODY} `), NOW_MS).ok).toBe(false);
    expect(verifyDelivery(signature, new Headers(), bytes(BODY), NOW_MS)).toEqual({
      ok: false,
      reason: "no X-Buildkite-Signature header (is the webhook in signature mode?)",
    });
  });
});

describe("token mode", () => {
  test("accepts exactly the secret", () => {
    const headers = (value: string) => new Headers({ "x-buildkite-token": value });
    expect(verifyDelivery(token, headers(SECRET), bytes(BODY), NOW_MS).ok).toBe(true);
    // (Surrounding whitespace never reaches us: HTTP header values are trimmed.)
    for (const wrong of ["", "s3cret", `${SECRET}x`, SECRET.toUpperCase()]) {
      expect(verifyDelivery(token, headers(wrong), bytes(BODY), NOW_MS).ok).toBe(false);
    }
  });

  test("refuses a signature-only delivery and never echoes the secret in its reason", () => {
    const verdict = verifyDelivery(
      token,
      signed(buildkiteSignature(SECRET, BODY, NOW_S)),
      bytes(BODY),
      NOW_MS,
    );
    expect(verdict.ok).toBe(false);
    expect(JSON.stringify(verdict)).not.toContain(SECRET);
  });
});
