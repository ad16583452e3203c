/**
 * A local atproto world on 127.0.0.1, independent of src/: a PLC directory serving DID
 * documents at `GET /<did>` (with the account's `#atproto` key and `#atproto_pds` endpoint), and
 * the PDS those documents point to, serving `com.atproto.sync.getBlob` and
 * `com.atproto.repo.getRecord`. Failures can be switched on; every request is recorded.
 */
import { createHash } from "node:crypto";
import type { Server } from "bun";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export class FakeAtproto {
  readonly requests: URL[] = [];
  private readonly documents = new Map<string, unknown>();
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly records = new Map<string, unknown>();
  private blobFailures = 0;
  private readonly server: Server<undefined>;

  private constructor() {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => this.handle(new URL(request.url)),
    });
  }

  static start(): FakeAtproto {
    return new FakeAtproto();
  }

  /** The PLC directory's URL, and the PDS's. */
  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /**
   * Publishes `did`'s DID document: its PDS is this server; `signingKey` a multibase key; a
   * repo DID names its knot (`http://<knot>`) as a `#tangled_knot` service.
   */
  addIdentity(
    did: string,
    options: { signingKey?: string; pds?: string; knot?: string } = {},
  ): void {
    this.documents.set(did, {
      "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
      id: did,
      alsoKnownAs: [`at://${did.slice(-8)}.test`],
      verificationMethod: options.signingKey
        ? [
            {
              id: `${did}#atproto`,
              type: "Multikey",
              controller: did,
              publicKeyMultibase: options.signingKey,
            },
          ]
        : [],
      service: [
        {
          id: "#atproto_pds",
          type: "AtprotoPersonalDataServer",
          serviceEndpoint: options.pds ?? this.url,
        },
        ...(options.knot
          ? [
              {
                id: "#tangled_knot",
                type: "TangledKnot",
                serviceEndpoint: `http://${options.knot}`,
              },
            ]
          : []),
      ],
    });
  }

  /** Stores a blob on the PDS; returns its CID (base32, as records reference blobs). */
  putBlob(bytes: Uint8Array): string {
    const digest = createHash("sha256").update(bytes).digest();
    let cid = "bafkrei";
    for (let i = 0; i < 40; i++) cid += BASE32.charAt((digest[i % digest.length] ?? 0) % 32);
    this.blobs.set(cid, bytes);
    return cid;
  }

  /** Stores a record on the PDS, for com.atproto.repo.getRecord. */
  putRecord(did: string, collection: string, rkey: string, value: unknown): void {
    this.records.set(`${did}/${collection}/${rkey}`, value);
  }

  /** The next `count` getBlob requests fail with 502. */
  failBlobs(count: number): void {
    this.blobFailures = count;
  }

  private handle(url: URL): Response {
    this.requests.push(url);
    if (url.pathname === "/xrpc/com.atproto.sync.getBlob") {
      if (this.blobFailures > 0) {
        this.blobFailures--;
        return Response.json({ error: "InternalServerError" }, { status: 502 });
      }
      const did = url.searchParams.get("did") ?? "";
      const blob = this.blobs.get(url.searchParams.get("cid") ?? "");
      if (!this.documents.has(did) || !blob) {
        return Response.json({ error: "BlobNotFound", message: "blob not found" }, { status: 400 });
      }
      return new Response(blob, { headers: { "content-type": "application/octet-stream" } });
    }
    if (url.pathname === "/xrpc/com.atproto.repo.getRecord") {
      const key = `${url.searchParams.get("repo")}/${url.searchParams.get("collection")}/${url.searchParams.get("rkey")}`;
      const value = this.records.get(key);
      if (!value) return Response.json({ error: "RecordNotFound" }, { status: 400 });
      return Response.json({ uri: `at://${key}`, value });
    }
    if (url.pathname === "/_health") return Response.json({ version: "stand-in" });
    const document = this.documents.get(decodeURIComponent(url.pathname.slice(1)));
    if (document) return Response.json(document);
    return Response.json({ message: "DID not registered" }, { status: 404 });
  }

  stop(): void {
    this.server.stop(true);
  }
}
