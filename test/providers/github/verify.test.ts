/** X-Hub-Signature-256 verification, checked against GitHub's documented test vector. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { verifySignature } from "../../../src/providers/github/verify.ts";
import { signGithub } from "../../helpers/sign-github.ts";

// Real servers and processes: some tests take seconds (bun resets the default per file).
setDefaultTimeout(30_000);

const bytes = (text: string) => new TextEncoder().encode(text);

describe("github signature", () => {
  test('GitHub\'s example: secret "It\'s a Secret to Everybody", body "Hello, World!"', () => {
    const header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect(signGithub("It's a Secret to Everybody", "Hello, World!")).toBe(header);
    expect(verifySignature("It's a Secret to Everybody", bytes("Hello, World!"), header)).toBe(
      true,
    );
    expect(
      verifySignature(
        "It's a Secret to Everybody",
        bytes("Hello, World!"),
        header.toUpperCase().replace("SHA256", "sha256"),
      ),
    ).toBe(true);
  });

  test("anything else is refused", () => {
    const body = bytes('{"zen":"Design for failure."}');
    const good = signGithub("s3cret", body);
    expect(verifySignature("s3cret", body, good)).toBe(true);
    expect(verifySignature("other", body, good)).toBe(false);
    expect(verifySignature("s3cret", bytes('{"zen":"Design for failure!"}'), good)).toBe(false);
    expect(verifySignature("s3cret", body, null)).toBe(false);
    expect(verifySignature("s3cret", body, "")).toBe(false);
    expect(verifySignature("s3cret", body, good.slice(7))).toBe(false);
    expect(verifySignature("s3cret", body, good.slice(0, -2))).toBe(false);
    expect(verifySignature("s3cret", body, `${good}00`)).toBe(false);
    expect(verifySignature("s3cret", body, "sha1=0123456789abcdef0123456789abcdef01234567")).toBe(
      false,
    );
  });

  test("verifies the exact bytes, including non-ASCII", () => {
    const body = bytes('{"name":"Zoë ✓"}');
    expect(verifySignature("s", body, signGithub("s", body))).toBe(true);
  });
});
