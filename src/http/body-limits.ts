/**
 * Caps what unauthenticated webhook senders can make tack hold in memory. A webhook's body is
 * read in full before its signature can be checked, so without limits anyone could open
 * hundreds of uploads and trickle their bodies in (each up to 1 MiB, buffered for as long as
 * the sender likes).
 *
 * - Bodies in flight share a byte budget (`maxInFlightBytes`): each POST reserves its
 *   Content-Length (the size cap when it sends none) until it is answered, and one that does
 *   not fit, or that would exceed `maxInFlight` uploads, is answered 503 with `Retry-After`
 *   before its body is read. Real webhooks are a few kilobytes, so a burst of hundreds from a
 *   busy CI fits; hundreds of 1 MiB uploads do not.
 * - A body must arrive within `bodyTimeoutMs` of the request (real CIs send theirs at once);
 *   a slower one is answered 408 and its slot freed.
 *
 * The body is read here, under both limits, and handed on unchanged: the request's
 * body-reading methods return the same bytes, so the webhook route downstream reads them as
 * usual. Registered with `onRequest`, before routing and before any handler.
 */
import { Elysia } from "elysia";
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

const PREFIX = "/webhooks/";
/** A slot is freed when its response is sent; this is the backstop if that hook never runs. */
const SLOT_BACKSTOP_MS = 120_000;
const RETRY_AFTER_S = 5;

export function webhookBodyLimits(
  deps: { metrics?: Metrics; knownProviders?: Set<string> } & Partial<WebhookBodyLimits> = {},
) {
  const limits = { ...DEFAULT_WEBHOOK_BODY_LIMITS, ...deps };
  const slots = new Map<Request, { backstop: ReturnType<typeof setTimeout>; bytes: number }>();
  let reservedBytes = 0;
  const release = (request: Request) => {
    const slot = slots.get(request);
    if (slot === undefined) return;
    clearTimeout(slot.backstop);
    slots.delete(request);
    reservedBytes -= slot.bytes;
  };
  const count = (request: Request, result: "busy" | "timeout" | "too_large") => {
    const name = new URL(request.url).pathname.slice(PREFIX.length);
    // The label comes from the URL: only known names, so strangers cannot grow the series.
    const provider = deps.knownProviders?.has(name) ? name : "unknown";
    deps.metrics?.webhooks.inc({ provider, result });
  };

  return new Elysia({ name: "webhook-body-limits" })
    .onRequest(async ({ request }) => {
      if (request.method !== "POST" || !new URL(request.url).pathname.startsWith(PREFIX)) return;
      const length = Number(request.headers.get("content-length") ?? Number.NaN);
      const bytes =
        Number.isFinite(length) && length >= 0
          ? Math.min(length, limits.maxBytes)
          : limits.maxBytes;
      if (slots.size >= limits.maxInFlight || reservedBytes + bytes > limits.maxInFlightBytes) {
        count(request, "busy");
        return new Response("too many webhook deliveries in flight; retry later\n", {
          status: 503,
          headers: {
            "content-type": "text/plain; charset=utf-8",
            "retry-after": String(RETRY_AFTER_S),
          },
        });
      }
      reservedBytes += bytes;
      slots.set(request, { backstop: setTimeout(() => release(request), SLOT_BACKSTOP_MS), bytes });
      const body = await readBody(request, limits);
      if (body === "timeout" || body === "too_large") {
        release(request);
        count(request, body);
        return body === "timeout"
          ? plain(408, `request body not received within ${limits.bodyTimeoutMs / 1000} s\n`)
          : plain(413, "request body too large\n");
      }
      handOn(request, body);
      return undefined;
    })
    .onAfterResponse({ as: "global" }, ({ request }) => release(request))
    .as("global");
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

/** Makes the request's body-reading methods return the bytes already read. */
function handOn(request: Request, body: Uint8Array): void {
  const copy = () => body.slice();
  const methods: Record<string, () => unknown> = {
    arrayBuffer: async () => copy().buffer,
    bytes: async () => copy(),
    text: async () => new TextDecoder().decode(body),
    json: async () => JSON.parse(new TextDecoder().decode(body)),
    blob: async () => new Blob([copy()]),
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(request, name, { value, configurable: true });
  }
  Object.defineProperty(request, "body", {
    configurable: true,
    get: () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(copy());
          controller.close();
        },
      }),
  });
}

function plain(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
