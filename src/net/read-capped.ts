/**
 * Reads a response body up to `maxBytes`: a server that sends more (or says it will) is cut
 * off, so a host someone else chose cannot make tack buffer an unbounded answer. Undefined when
 * the body is larger.
 */
export async function readCappedBytes(
  response: Response,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** The same, as UTF-8 text. */
export async function readCapped(
  response: Response,
  maxBytes: number,
): Promise<string | undefined> {
  const bytes = await readCappedBytes(response, maxBytes);
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8");
}
