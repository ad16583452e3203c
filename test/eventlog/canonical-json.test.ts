import { expect, test } from "bun:test";
import { canonicalJson, goJson } from "../../src/eventlog/canonical-json.ts";

test("canonical JSON sorts keys at every level and escapes like Go", () => {
  expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: "<x&y>" }, $type: "t" })).toBe(
    '{"$type":"t","a":{"c":"\\u003cx\\u0026y\\u003e","d":[{"y":2,"z":1}]},"b":1}',
  );
});

test("canonical JSON drops undefined members", () => {
  expect(canonicalJson({ a: 1, b: undefined as unknown as null })).toBe('{"a":1}');
});

test("goJson keeps insertion order and escapes line separators", () => {
  expect(goJson({ z: "\u2028", a: 1 })).toBe('{"z":"\\u2028","a":1}');
});

test('a "__proto__" key is kept as data (found by the property test)', () => {
  expect(canonicalJson(JSON.parse('{"__proto__":0,"a":1}'))).toBe('{"__proto__":0,"a":1}');
});
