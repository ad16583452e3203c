/**
 * The fingerprint of a workflow definition, as sh.tangled.ci.describeWorkflowDefinition answers
 * it and the appview compares it between commits: SHA-256 over the workflow files sorted by
 * name (byte order), each contributing its name, a 0 byte, its content length as a 64-bit
 * little-endian integer, and its content; written `sha256:<lowercase hex>`. No files hash the
 * empty input.
 */
import type { WorkflowFile } from "../tangled/knot-xrpc.ts";

export function fingerprintWorkflows(files: readonly WorkflowFile[]): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const encoder = new TextEncoder();
  const sorted = [...files].sort((a, b) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  for (const file of sorted) {
    const content = encoder.encode(file.content);
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(content.byteLength), true);
    hasher.update(encoder.encode(file.name));
    hasher.update(new Uint8Array([0]));
    hasher.update(length);
    hasher.update(content);
  }
  return `sha256:${hasher.digest("hex")}`;
}
