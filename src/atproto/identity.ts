/**
 * Resolves atproto identities: a DID's document, from the PLC directory (did:plc, at
 * TACK_PLC_URL) or from the host itself (did:web, `https://<host>/.well-known/did.json`; plain
 * `http://` in dev mode), and from it the account's PDS endpoint and its `#atproto` signing key.
 *
 * Documents are cached for a while (identities rarely change) and re-fetched on demand when a
 * caller has reason to think one is stale (a signature that does not verify: the key may have
 * been rotated). Every fetch has a timeout and a size cap, and a document must name the DID it
 * was asked for: a PLC directory or a web host cannot answer for someone else.
 */
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { PublicHosts } from "../net/public-hosts.ts";
import { readCapped } from "../net/read-capped.ts";

const DEFAULT_TTL_MS = 10 * 60_000;
const TIMEOUT_MS = 10_000;
const MAX_DOCUMENT_BYTES = 64 * 1024;
const MAX_CACHED = 10_000;

const DidDocument = Type.Object({
  id: Type.String(),
  verificationMethod: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String(),
        type: Type.String(),
        controller: Type.Optional(Type.String()),
        publicKeyMultibase: Type.Optional(Type.String()),
      }),
    ),
  ),
  service: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String(),
        type: Type.String(),
        serviceEndpoint: Type.Unknown(),
      }),
    ),
  ),
});
export type DidDocument = Static<typeof DidDocument>;

export interface Identity {
  did: string;
  /** The `#atproto` verification method's key, as a `did:key:` string (undefined if none). */
  signingKey: string | undefined;
  /** The `#atproto_pds` service endpoint (undefined if none). */
  pds: string | undefined;
  /**
   * For a repo DID: the host of the knot serving the repo, from its `#tangled_knot` service
   * (older repo DIDs name their knot as `#atproto_pds`).
   */
  knot: string | undefined;
}

/** The identity cannot be resolved; `retryable` when asking again later may help. */
export class IdentityError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface IdentityResolverOptions {
  plcUrl: string;
  dev: boolean;
  /** did:web hosts are named by strangers: only public ones are asked (none refused if absent). */
  hosts?: PublicHosts;
  fetch?: typeof fetch;
  ttlMs?: number;
  now?: () => number;
}

export class IdentityResolver {
  private readonly cache = new Map<string, { identity: Identity; at: number }>();
  private readonly inFlight = new Map<string, Promise<Identity>>();
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: IdentityResolverOptions) {
    this.fetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  /** The identity of `did`, from the cache unless `fresh` or older than the TTL. */
  async resolve(did: string, fresh = false): Promise<Identity> {
    const cached = this.cache.get(did);
    if (cached && !fresh && this.now() - cached.at < (this.options.ttlMs ?? DEFAULT_TTL_MS)) {
      return cached.identity;
    }
    const pending = this.inFlight.get(did);
    if (pending) return pending;
    const lookup = this.lookup(did).finally(() => this.inFlight.delete(did));
    this.inFlight.set(did, lookup);
    const identity = await lookup;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(did, { identity, at: this.now() });
    return identity;
  }

  private async lookup(did: string): Promise<Identity> {
    const document = await this.document(did);
    const pds = endpointOf(document, "atproto_pds", "AtprotoPersonalDataServer");
    const knot = endpointOf(document, "tangled_knot", "TangledKnot") ?? pds;
    return { did, signingKey: signingKeyOf(document), pds, knot: knot && new URL(knot).host };
  }

  private async document(did: string): Promise<DidDocument> {
    const url = documentUrl(did, this.options);
    if (did.startsWith("did:web:")) {
      const refusal = await this.options.hosts?.refusal(url.host);
      if (refusal) throw new IdentityError(`cannot resolve ${did}: ${refusal}`, false);
    }
    let response: Response;
    try {
      response = await this.fetch(url, {
        headers: { accept: "application/did+ld+json, application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new IdentityError(`cannot resolve ${did}: ${url.host} did not answer: ${reason}`, true);
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new IdentityError(`cannot resolve ${did}: no such identity`, false);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new IdentityError(
        `cannot resolve ${did}: ${url.host} answered ${response.status}`,
        response.status >= 500 || response.status === 429,
      );
    }
    const text = await readCapped(response, MAX_DOCUMENT_BYTES);
    if (text === undefined) {
      throw new IdentityError(`cannot resolve ${did}: its document is too large`, false);
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new IdentityError(`cannot resolve ${did}: its document is not JSON`, false);
    }
    if (!Value.Check(DidDocument, document) || document.id !== did) {
      throw new IdentityError(`cannot resolve ${did}: not a DID document for it`, false);
    }
    return document;
  }
}

/** Where a DID's document lives; throws for methods atproto does not use. */
export function documentUrl(did: string, options: { plcUrl: string; dev: boolean }): URL {
  if (/^did:plc:[a-z0-9]{1,64}$/.test(did)) {
    return new URL(`${options.plcUrl.replace(/\/+$/, "")}/${did}`);
  }
  const web = /^did:web:([A-Za-z0-9.-]+(?:%3A[0-9]{1,5})?)$/.exec(did);
  if (web?.[1]) {
    const host = web[1].replace("%3A", ":");
    return new URL(`${options.dev ? "http" : "https"}://${host}/.well-known/did.json`);
  }
  throw new IdentityError(`cannot resolve ${did}: only did:plc and did:web are supported`, false);
}

function signingKeyOf(document: DidDocument): string | undefined {
  const method = document.verificationMethod?.find(
    (m) => m.id === "#atproto" || m.id === `${document.id}#atproto`,
  );
  if (!method?.publicKeyMultibase || method.type !== "Multikey") return undefined;
  return `did:key:${method.publicKeyMultibase}`;
}

/** The origin of the document's service `#<id>` of type `type`, when it is an http(s) URL. */
function endpointOf(document: DidDocument, id: string, type: string): string | undefined {
  const service = document.service?.find(
    (s) => (s.id === `#${id}` || s.id === `${document.id}#${id}`) && s.type === type,
  );
  const endpoint = service?.serviceEndpoint;
  if (typeof endpoint !== "string") return undefined;
  try {
    const url = new URL(endpoint);
    return url.protocol === "https:" || url.protocol === "http:" ? url.origin : undefined;
  } catch {
    return undefined;
  }
}
