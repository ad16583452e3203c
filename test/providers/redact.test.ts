/**
 * The Redactor: configured secrets, recent build variables and anything shaped like a
 * credential never leave tack in a log, a status or an error; a CI's text is published only as
 * a bounded, single-line excerpt.
 */
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../src/log.ts";
import { looksLikeToken, Redactor } from "../../src/providers/redact.ts";
import { captureLogger } from "../helpers/tack.ts";

const SECRET = "whsec-0123456789abcdef";

describe("redactor", () => {
  test("configured secrets and credential shapes are masked, wherever they appear", () => {
    const redactor = new Redactor([SECRET, "short", undefined]);
    expect(redactor.redact(`a ${SECRET} b ${SECRET}c`)).toBe("a [redacted] b [redacted]c");
    // Too short to be a secret worth hunting: ordinary words survive.
    expect(redactor.redact("a short answer")).toBe("a short answer");
    expect(redactor.redact("Authorization: Bearer abc.def.ghi")).toBe("[redacted]");
    expect(redactor.redact("proxy said authorization=token xyz123")).toBe("proxy said [redacted]");
    expect(redactor.redact("use token 0123456789abcdef0123")).toBe("use [redacted]");
    expect(redactor.redact("leaked ghp_abcdefghijklmnopqrstuvwxyz0123 here")).toBe(
      "leaked [redacted] here",
    );
  });

  test("a secret containing another is masked whole", () => {
    const redactor = new Redactor(["abcdef", "abcdef-and-more"]);
    expect(redactor.redact("x abcdef-and-more y abcdef")).toBe("x [redacted] y [redacted]");
  });

  test("build variables are remembered as secrets, the most recent thousand", () => {
    const redactor = new Redactor([]);
    redactor.remember("one-time-token-000");
    for (let i = 1; i <= 1_000; i++)
      redactor.remember(`one-time-token-${String(i).padStart(3, "0")}x`);
    expect(redactor.redact("one-time-token-000")).toBe("one-time-token-000");
    expect(redactor.redact("one-time-token-1000x")).toBe("[redacted]");
  });

  test("an excerpt is one bounded line without escapes or control characters", () => {
    const redactor = new Redactor([SECRET]);
    const text = `\u001b[31mError\u001b[0m:\r\n\tbad ${SECRET}\u0000 ${"y".repeat(500)}`;
    const excerpt = redactor.excerpt(text, 40);
    expect(excerpt).toBe(`Error: bad [redacted] ${"y".repeat(17)}…`);
    expect(excerpt).toHaveLength(40);
  });

  test("a redacting logger masks the message, text fields and errors, even in children", () => {
    const { log, lines } = captureLogger();
    const redactor = new Redactor([SECRET]);
    const child = redactor.logger(log).child({ bound: `x${SECRET}` });
    child.warn(`msg ${SECRET}`, { field: SECRET, err: new Error(`boom ${SECRET}`), n: 3 });
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(lines[0]).toMatchObject({ msg: "msg [redacted]", field: "[redacted]", n: 3 });
  });

  test("a line below the logger's level is neither written nor redacted", () => {
    const lines: string[] = [];
    const log = createLogger("info", (line) => lines.push(line));
    const logger = new Redactor([SECRET]).logger(log).child({ bound: "x" });
    let read = 0;
    const fields = {
      get detail() {
        read++;
        return SECRET;
      },
    };
    logger.debug("not at info", fields);
    expect(lines).toEqual([]);
    expect(read).toBe(0);
    expect(logger.enabled("debug")).toBe(false);
    logger.info("at info", fields);
    expect(read).toBe(1);
    expect(lines[0]).toContain('"detail":"[redacted]"');
  });

  test("token-looking values are recognised; ordinary configuration values are not", () => {
    for (const value of ["ghp_x", "bkua_0123", "a1b2c3d4e5f6a7b8c9d0e1f2"]) {
      expect(looksLikeToken(value)).toBe(true);
    }
    for (const value of ["my-org", "https://api.buildkite.com", "spindle.example.com", "30d"]) {
      expect(looksLikeToken(value)).toBe(false);
    }
  });
});
