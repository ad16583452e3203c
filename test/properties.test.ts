/**
 * Property-based tests (fast-check) for every parser at tack's edges: whatever arrives, each
 * returns a clear answer or a clear error, never a crash and never a wrong value.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { canonicalJson, type JsonValue } from "../src/eventlog/canonical-json.ts";
import { decodeTid, encodeTid, isTid } from "../src/eventlog/tid.ts";
import { parseCursor } from "../src/http/events.ts";
import { readTackBlock } from "../src/pipeline/workflow-yaml.ts";
import { verifyDelivery } from "../src/providers/buildkite/verify.ts";
import { verifySignature } from "../src/providers/github/verify.ts";
import { JetstreamEvent, KnotFrame, PipelineRecord, RepoRecord } from "../src/tangled/lexicons.ts";
import { startTestTack } from "./helpers/tack.ts";
import { upgradeStatus } from "./helpers/ws.ts";

const RUNS = { numRuns: 500 };

describe("cursor", () => {
  test("any text parses to a non-negative cursor without throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        const { cursor, valid } = parseCursor(raw);
        expect(cursor >= 0n).toBe(true);
        if (!valid) expect(cursor).toBe(0n);
      }),
      RUNS,
    );
  });

  test("every int64 cursor round-trips exactly, beyond 2^53", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (value) => {
        expect(parseCursor(value.toString())).toEqual({ cursor: value, valid: true });
      }),
      RUNS,
    );
  });
});

describe("TIDs", () => {
  test("encode/decode round-trips and keeps order", () => {
    const micros = fc.bigInt({ min: 0n, max: (1n << 53n) - 1n });
    const clock = fc.integer({ min: 0, max: 1023 });
    fc.assert(
      fc.property(micros, clock, micros, clock, (m1, c1, m2, c2) => {
        const [a, b] = [encodeTid(m1, c1), encodeTid(m2, c2)];
        expect(isTid(a)).toBe(true);
        expect(decodeTid(a)).toEqual({ micros: m1, clockId: c1 });
        // TIDs sort as strings exactly as their (micros, clock) values sort.
        const byValue = m1 === m2 ? Math.sign(c1 - c2) : m1 < m2 ? -1 : 1;
        expect(a === b ? 0 : a < b ? -1 : 1).toBe(byValue);
      }),
      RUNS,
    );
  });

  test("decoding arbitrary text either throws a clear error or yields a valid TID", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (text) => {
        if (!isTid(text)) {
          expect(() => decodeTid(text)).toThrow("not a TID");
          return;
        }
        const { micros, clockId } = decodeTid(text);
        expect(encodeTid(micros, clockId)).toBe(text);
      }),
      RUNS,
    );
  });
});

describe("workflow tack: block", () => {
  test("any text yields a provider or an error sentence, never a throw", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (raw) => {
        const block = readTackBlock(raw);
        if (block.ok) expect(block.provider.length).toBeGreaterThan(0);
        else expect(block.error.length).toBeGreaterThan(10);
      }),
      RUNS,
    );
  });

  test("YAML documents with a tack: mapping route to its first key", () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
    const scalar = fc.oneof(fc.integer(), fc.boolean(), fc.stringMatching(/^[a-z0-9 ._-]{0,20}$/));
    fc.assert(
      fc.property(key, fc.dictionary(key, scalar, { maxKeys: 5 }), (provider, options) => {
        const raw = `engine: tack\ntack:\n  ${provider}: ${JSON.stringify(options)}\n`;
        expect(readTackBlock(raw)).toEqual({ ok: true, provider, options: options as JsonValue });
      }),
      RUNS,
    );
  });
});

describe("record validation", () => {
  test("validating anything never throws, and accepts only well-formed records", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        for (const schema of [PipelineRecord, RepoRecord, JetstreamEvent, KnotFrame]) {
          const ok = Value.Check(schema, value);
          if (!ok) expect(Value.Errors(schema, value).First()).toBeDefined();
        }
      }),
      RUNS,
    );
  });
});

describe("canonical JSON", () => {
  test("parses back to the same value, with no raw HTML-sensitive characters", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value as JsonValue);
        expect(text).not.toMatch(/[<>&\u2028\u2029]/);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      RUNS,
    );
  });
});

describe("/logs path parameters", () => {
  test("any segments get 404 or 400 before the upgrade, never a 5xx", async () => {
    await using service = await startTestTack();
    // Bare "." and ".." are resolved by URL parsing before any server sees them.
    const segment = fc.oneof(
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s !== "." && s !== ".."),
      fc.constantFrom("%2e%2e", "%2F", "..%2F..%2Fetc%2Fpasswd", "a".repeat(300), "%00", "*"),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, segment, async (knot, rkey, workflow) => {
        const path = [knot, rkey, workflow].map((s) => encodeURIComponent(s)).join("/");
        const { status } = await upgradeStatus(`${service.ws}/logs/${path}`);
        expect([400, 404]).toContain(status);
      }),
      { numRuns: 150 },
    );
  });
});

describe("webhook signature headers", () => {
  const secret = "whsec-property-0123456789";
  const body = new TextEncoder().encode('{"event":"build.running"}');

  test("Buildkite: any signature header is refused without throwing, unless it is right", () => {
    const now = 1_800_000_000_000;
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{0,70}$/))
        .map(([t, s]) => `timestamp=${t},signature=${s}`),
      fc.constantFrom(
        "timestamp=,signature=",
        "signature=abc,timestamp=1",
        "timestamp=1800000000",
        ",,,,",
      ),
    );
    fc.assert(
      fc.property(header, (value) => {
        fc.pre(/^[\x20-\x7e]*$/.test(value)); // what an HTTP header can carry
        const headers = new Headers({ "x-buildkite-signature": value });
        const verdict = verifyDelivery(
          { webhookSecret: secret, webhookMode: "signature" },
          headers,
          body,
          now,
        );
        expect(verdict.ok).toBe(false);
      }),
      RUNS,
    );
    const timestamp = now / 1000;
    const signature = createHmac("sha256", secret)
      .update(`${timestamp}.`)
      .update(body)
      .digest("hex");
    const good = new Headers({
      "x-buildkite-signature": `timestamp=${timestamp},signature=${signature}`,
    });
    expect(
      verifyDelivery({ webhookSecret: secret, webhookMode: "signature" }, good, body, now).ok,
    ).toBe(true);
  });

  test("Buildkite token mode: only the exact token passes", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (token) => {
        fc.pre(/^[\x21-\x7e]*$/.test(token)); // header values carry no control characters
        const verdict = verifyDelivery(
          { webhookSecret: secret, webhookMode: "token" },
          new Headers({ "x-buildkite-token": token }),
          body,
          Date.now(),
        );
        expect(verdict.ok).toBe(token === secret);
      }),
      RUNS,
    );
  });

  test("GitHub: any X-Hub-Signature-256 is refused without throwing, unless it is right", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.stringMatching(/^[0-9a-f]{0,64}$/).map((h) => `sha256=${h}`),
        ),
        (value) => {
          expect(verifySignature(secret, body, value)).toBe(false);
        },
      ),
      RUNS,
    );
    expect(
      verifySignature(
        secret,
        body,
        `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      ),
    ).toBe(true);
  });
});
