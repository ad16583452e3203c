/**
 * atproto service auth: the `Authorization: Bearer <JWT>` a user's PDS mints for one call to
 * one service. Checked in full before anything else happens:
 *
 * - compact JWS, `alg` ES256 (P-256) or ES256K (secp256k1), no token types meant for other uses;
 * - `aud` is this spindle's service DID (`did:web:<TACK_HOSTNAME>`, with `:` as `%3A`);
 * - `lxm` is present and names exactly the method being called;
 * - `exp` is required and in the future, `iat` and `nbf` (when present) not in the future, all
 *   with a few seconds of leeway for clock skew;
 * - `iss` is a DID whose document's `#atproto` key made the signature (resolved through the PLC
 *   directory or did:web). A signature that does not verify is checked once more against a
 *   freshly resolved document: the user may have rotated their key.
 *
 * On success the caller is `iss`. Every failure is an AuthError whose message says which check
 * failed and never contains the token.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { IdentityError, type IdentityResolver } from "./identity.ts";

const LEEWAY_S = 5;
const MAX_TOKEN_LENGTH = 8 * 1024;
const ALGORITHMS = new Set(["ES256", "ES256K"]);
/** Token types atproto uses for other purposes; never accepted as service auth. */
const FOREIGN_TYPES = new Set(["at+jwt", "refresh+jwt", "dpop+jwt"]);

const Header = Type.Object({ alg: Type.String(), typ: Type.Optional(Type.String()) });
const Claims = Type.Object({
  iss: Type.String({ pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+(?:#[A-Za-z0-9_-]+)?$" }),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  exp: Type.Number(),
  iat: Type.Optional(Type.Number()),
  nbf: Type.Optional(Type.Number()),
  lxm: Type.Optional(Type.String()),
});
type Claims = Static<typeof Claims>;

export class AuthError extends Error {}

/** This spindle's service DID for `hostname` (a dev port's `:` written `%3A`). */
export function serviceDid(hostname: string): string {
  return `did:web:${hostname.replaceAll(":", "%3A")}`;
}

export class ServiceAuth {
  constructor(
    private readonly deps: {
      audience: string;
      identities: IdentityResolver;
      now?: () => number;
    },
  ) {}

  /**
   * The DID of the caller of `method`, from the request's Authorization header. Throws
   * AuthError when anything about the token is wrong.
   */
  async verify(authorization: string | null, method: string): Promise<string> {
    if (!authorization?.startsWith("Bearer ")) {
      throw new AuthError("missing bearer token in the Authorization header");
    }
    const token = authorization.slice("Bearer ".length).trim();
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthError("token too long");
    const parts = token.split(".");
    if (parts.length !== 3) throw new AuthError("malformed token: not a compact JWS");
    const [headerPart = "", claimsPart = "", signaturePart = ""] = parts;
    const header = decodeJson(headerPart, "header");
    if (!Value.Check(Header, header)) throw new AuthError("malformed token header");
    if (!ALGORITHMS.has(header.alg)) throw new AuthError(`unsupported algorithm ${header.alg}`);
    if (header.typ !== undefined && FOREIGN_TYPES.has(header.typ.toLowerCase())) {
      throw new AuthError(`a ${header.typ} token is not service auth`);
    }
    const claims = decodeJson(claimsPart, "claims");
    if (!Value.Check(Claims, claims)) throw new AuthError("malformed token claims");
    this.checkClaims(claims, method);
    const signature = base64url(signaturePart, "signature");
    const signed = new TextEncoder().encode(`${headerPart}.${claimsPart}`);
    const issuer = claims.iss.split("#")[0] ?? claims.iss;
    if (await this.signedBy(issuer, signed, signature, header.alg, false)) return issuer;
    // The key may have been rotated since the document was cached: look once more.
    if (await this.signedBy(issuer, signed, signature, header.alg, true)) return issuer;
    throw new AuthError("signature does not match the issuer's key");
  }

  private checkClaims(claims: Claims, method: string): void {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.deps.audience)) {
      throw new AuthError(`token is for ${audiences.join(", ")}, not ${this.deps.audience}`);
    }
    if (claims.lxm === undefined) throw new AuthError("token names no method (lxm)");
    if (claims.lxm !== method) throw new AuthError(`token is for ${claims.lxm}, not ${method}`);
    const now = Math.floor((this.deps.now?.() ?? Date.now()) / 1000);
    if (claims.exp + LEEWAY_S <= now) throw new AuthError("token expired");
    if (claims.iat !== undefined && claims.iat - LEEWAY_S > now) {
      throw new AuthError("token issued in the future");
    }
    if (claims.nbf !== undefined && claims.nbf - LEEWAY_S > now) {
      throw new AuthError("token not valid yet");
    }
  }

  private async signedBy(
    issuer: string,
    data: Uint8Array,
    signature: Uint8Array,
    alg: string,
    fresh: boolean,
  ): Promise<boolean> {
    let key: string | undefined;
    try {
      key = (await this.deps.identities.resolve(issuer, fresh)).signingKey;
    } catch (error) {
      if (error instanceof IdentityError) throw new AuthError(error.message);
      throw error;
    }
    if (!key) throw new AuthError(`${issuer} has no atproto signing key`);
    try {
      // Loaded on first use: its curves take a while to set up, and start-up needs none.
      const { verifySignature } = await import("@atproto/crypto");
      return await verifySignature(key, data, signature, { jwtAlg: alg, allowMalleableSig: true });
    } catch {
      // A key of another type than `alg`, or one that does not parse.
      return false;
    }
  }
}

function decodeJson(part: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(base64url(part, what)));
  } catch (error) {
    if (error instanceof AuthError) throw error;
    throw new AuthError(`malformed token ${what}`);
  }
}

function base64url(part: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new AuthError(`malformed token ${what}`);
  return new Uint8Array(Buffer.from(part, "base64url"));
}
