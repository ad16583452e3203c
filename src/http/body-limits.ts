/**
 * Caps what unauthenticated webhook senders can make tack hold in memory. A webhook's body is
 * read in full before its signature can be checked, so without limits anyone could open
 * hundreds of uploads and trickle their bodies in (each up to 1 MiB, buffered for as long as
 * the sender likes).
 *
 * - Bodies in flight share a byte budget (`maxInFlightBytes`): each POST reserves its
 *   Content-Length (the size cap when it sends none) until its provider has answered, and one
 *   that does not fit, or that would exceed `maxInFlight` uploads, is answered 503 with
 *   `Retry-After` before its body is read. Real webhooks are a few kilobytes, so a burst of
 *   hundreds from a busy CI fits; hundreds of 1 MiB uploads do not.
 * - A body must arrive within `bodyTimeoutMs` of the request (real CIs send theirs at once);
 *   a slower one is answered 408 and its reservation freed.
 *
 * The webhook route reads its body through `WebhookBodies.read` (its route has `parse: "none"`,
 * so nothing reads the body before). It is a plain call rather than a global request hook: an
 * asynchronous hook, a body handed on by redefining the request's methods and a timer per
 * request cost a webhook more than routing it (docs/performance.md).
 */
import type { Metrics } from "../metrics.ts";

export interface WebhookBodyLimits {
  /** Uploads in flight at once. */
  maxInFlight: number;
  /** Bytes reserved by uploads in flight at once. */
  maxInFlightBytes: number;
  bodyTimeoutMs: number;
  maxBytes: number;
}

export const DEFAULT_WEBHOOK_BODY_LIMITS: WebhookBodyLimits = {
  maxInFlight: 512,
  maxInFlightBytes: 32 << 20,
  bodyTimeoutMs: 10_000,
  maxBytes: 1 << 20,
};

const RETRY_AFTER_S = 5;

export class WebhookBodies {
  private readonly limits: WebhookBodyLimits;
  private inFlight = 0;
  private reservedBytes = 0;

  constructor(
    limits: Partial<WebhookBodyLimits> = {},
    private readonly metrics?: Metrics,
  ) {
    this.limits = { ...DEFAULT_WEBHOOK_BODY_LIMITS, ...limits };
  }

  /**
   * Reads `request`'s body within the limits and answers with `handle(body)`; the body's
   * reservation lasts until `handle` has answered. Over the limits, the answer is 503, 408 or
   * 413 and `handle` is not called. `provider` labels the metrics (a configured provider's
   * name, so strangers cannot grow the series).
   */
  async read(
    request: Request,
    provider: string,
    handle: (body: Uint8Array) => Promise<Response>,
  ): Promise<Response> {
    const { limits } = this;
    const length = Number(request.headers.get("content-length") ?? Number.NaN);
    const bytes =
      Number.isFinite(length) && length >= 0 ? Math.min(length, limits.maxBytes) : limits.maxBytes;
    if (
      this.inFlight >= limits.maxInFlight ||
      this.reservedBytes + bytes > limits.maxInFlightBytes
    ) {
      this.metrics?.webhooks.inc({ provider, result: "busy" });
      return new Response("too many webhook deliveries in flight; retry later\n", {
        status: 503,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "retry-after": String(RETRY_AFTER_S),
        },
      });
    }
    this.inFlight++;
    this.reservedBytes += bytes;
    try {
      const body = await readBody(request, limits);
      if (body === "timeout") {
        this.metrics?.webhooks.inc({ provider, result: "timeout" });
        return plain(408, `request body not received within ${limits.bodyTimeoutMs / 1000} s\n`);
      }
      if (body === "too_large") {
        this.metrics?.webhooks.inc({ provider, result: "too_large" });
        return plain(413, "request body too large\n");
      }
      return await handle(body);
    } finally {
      this.inFlight--;
      this.reservedBytes -= bytes;
    }
  }
}

/**
 * Reads the whole body, giving up at the deadline or the size cap. The server already refuses
 * a body over its own limit (413 before any handler), so the cap here only matters when it is
 * lower; Bun reads the bytes natively, far cheaper than a JavaScript reader loop.
 */
async function readBody(
  request: Request,
  limits: WebhookBodyLimits,
): Promise<Uint8Array | "timeout" | "too_large"> {
  if (!request.body) return new Uint8Array();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), limits.bodyTimeoutMs);
  });
  const reading = request.bytes();
  try {
    const body = await Promise.race([reading, deadline]);
    if (body === "timeout") {
      reading.catch(() => {});
      void request.body?.cancel().catch(() => {});
      return "timeout";
    }
    return body.byteLength > limits.maxBytes ? "too_large" : body;
  } finally {
    clearTimeout(timer);
  }
}

function plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
