/**
 * Service-auth tokens as a user's PDS mints them (com.atproto.server.getServiceAuth), made here
 * independently of src/: P-256 keys with node:crypto (ES256), secp256k1 keys with
 * @noble/curves (ES256K), compact JWS with raw r‖s signatures, and the keys published in DID
 * documents as Multikey (multicodec prefix + compressed point, base58btc).
 */
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1";
import { sha256 } from "@noble/hashes/sha256";

export type Algorithm = "ES256" | "ES256K";

export interface TestSigner {
  alg: Algorithm;
  /** `z…`, the publicKeyMultibase of the DID document's #atproto method. */
  multikey: string;
  sign(data: Uint8Array): Uint8Array;
}

export function createSigner(alg: Algorithm): TestSigner {
  if (alg === "ES256") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x ?? "", "base64url");
    const y = Buffer.from(jwk.y ?? "", "base64url");
    const compressed = Buffer.concat([Buffer.from([(y.at(-1) ?? 0) & 1 ? 3 : 2]), x]);
    const pem = privateKey.export({ format: "pem", type: "pkcs8" });
    return {
      alg,
      multikey: multikey([0x80, 0x24], compressed),
      sign: (data) =>
        new Uint8Array(
          sign("sha256", data, { key: createPrivateKey(pem), dsaEncoding: "ieee-p1363" }),
        ),
    };
  }
  const secret = secp256k1.utils.randomPrivateKey();
  return {
    alg,
    multikey: multikey([0xe7, 0x01], secp256k1.getPublicKey(secret, true)),
    sign: (data) => secp256k1.sign(sha256(data), secret, { lowS: true }).toCompactRawBytes(),
  };
}

export interface TokenClaims {
  iss: string;
  aud?: string;
  lxm?: string | null;
  /** Seconds from now; default 60. */
  expiresIn?: number;
  /** Seconds from now the token says it was issued; default 0. */
  issuedIn?: number;
  /** Seconds from now before which it is not valid. */
  notBeforeIn?: number;
}

/** A compact JWS service-auth token signed by `signer`. */
export function serviceToken(signer: TestSigner, claims: TokenClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: "JWT", alg: signer.alg };
  const payload: Record<string, unknown> = {
    iss: claims.iss,
    aud: claims.aud,
    exp: now + (claims.expiresIn ?? 60),
    iat: now + (claims.issuedIn ?? 0),
    jti: crypto.randomUUID(),
  };
  if (claims.lxm !== null) payload.lxm = claims.lxm;
  if (claims.notBeforeIn !== undefined) payload.nbf = now + claims.notBeforeIn;
  const signingInput = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  const signature = signer.sign(new TextEncoder().encode(signingInput));
  return `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
}

function b64(text: string): string {
  return Buffer.from(text).toString("base64url");
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function multikey(prefix: number[], compressed: Uint8Array): string {
  const bytes = [...prefix, ...compressed];
  let value = 0n;
  for (const byte of bytes) value = value * 256n + BigInt(byte);
  let out = "";
  while (value > 0n) {
    out = BASE58.charAt(Number(value % 58n)) + out;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    out = `1${out}`;
  }
  return `z${out}`;
}
