/**
 * Reads from a user's PDS (its endpoint from their DID document): `com.atproto.sync.getBlob`
 * for a blob a record references. The PDS is the user's choice, so every read has a timeout
 * and a size cap, and follows no redirects.
 */
import { readCappedBytes } from "../net/read-capped.ts";

const TIMEOUT_MS = 15_000;

export class PdsError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export async function getBlob(
  pds: string,
  did: string,
  cid: string,
  maxBytes: number,
  fetchFn: typeof fetch = fetch,
): Promise<Uint8Array> {
  const url = new URL("/xrpc/com.atproto.sync.getBlob", pds);
  url.searchParams.set("did", did);
  url.searchParams.set("cid", cid);
  let response: Response;
  try {
    response = await fetchFn(url, { redirect: "error", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PdsError(`${url.host}: getBlob ${cid}: no answer: ${reason}`, true);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new PdsError(
      `${url.host}: getBlob ${cid}: answered ${response.status}`,
      response.status >= 500 || response.status === 429,
    );
  }
  const blob = await readCappedBytes(response, maxBytes);
  if (blob === undefined) {
    throw new PdsError(`${url.host}: getBlob ${cid}: larger than ${maxBytes} bytes`, false);
  }
  return blob;
}
