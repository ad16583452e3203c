import { describe, expect, test } from "bun:test";
import { decodeTid, encodeTid, isTid, TidClock } from "../../src/eventlog/tid.ts";

describe("TIDs", () => {
  test("encode a known value as atproto does", () => {
    // 0 µs, clock 0 is all '2's; the first character covers the top bit, which stays 0.
    expect(encodeTid(0n, 0)).toBe("2222222222222");
    const tid = encodeTid(1_764_266_702_123_456n, 7);
    expect(isTid(tid)).toBe(true);
    expect(decodeTid(tid)).toEqual({ micros: 1_764_266_702_123_456n, clockId: 7 });
  });

  test("rejects strings that are not TIDs", () => {
    for (const bad of ["", "222222222222", "22222222222222", "k222222222222", "222222222222A"]) {
      expect(isTid(bad)).toBe(false);
      expect(() => decodeTid(bad)).toThrow();
    }
  });

  test("a clock never repeats and sorts in creation order even when time stands still", () => {
    const clock = new TidClock(0n, 0, () => 1_000n);
    const tids = Array.from({ length: 1000 }, () => clock.next());
    expect(new Set(tids).size).toBe(1000);
    expect([...tids].sort()).toEqual(tids);
  });

  test("a clock seeded with a high-water mark stays above it when wall time is behind", () => {
    const before = new TidClock(0n, 3, () => 5_000_000n);
    const last = before.next();
    // Restart on a host whose clock went backwards by a second.
    const after = new TidClock(decodeTid(last).micros, 3, () => 4_000_000n);
    const next = after.next();
    expect(next > last).toBe(true);
    expect(decodeTid(next).micros).toBe(5_000_001n);
  });
});
