/**
 * GET / — a plain-text calling card for the curious and a liveness check during deployment;
 * a browser (`Accept: text/html`) gets the operator's status page instead (status-page.ts).
 * Only exactly "/" answers; every other unknown path is a 404 (see app.ts).
 */
import { Elysia } from "elysia";

// "tack" in figlet's larry3d font, as the Go tack and the bluesky PDS greet visitors.
export const BANNER = [
  " __                       __",
  "/\\ \\__                   /\\ \\",
  "\\ \\ ,_\\    __      ___   \\ \\ \\/'\\",
  " \\ \\ \\/  /'__`\\   /'___\\  \\ \\ , <",
  "  \\ \\ \\_/\\ \\L\\.\\_/\\ \\__/   \\ \\ \\\\`\\",
  "   \\ \\__\\ \\__/.\\_\\ \\____\\   \\ \\_\\ \\_\\",
  "    \\/__/\\/__/\\/_/\\/____/    \\/_/\\/_/",
  "",
  "",
  "This is a tack server: a Tangled spindle that stitches any CI into Tangled.",
  "",
  "Most API routes are under /xrpc/",
  "",
].join("\n");

/** Nothing but the page's own inline style may load or run. */
const PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function rootRoutes(statusPage?: () => Promise<string>) {
  return new Elysia({ name: "root" }).get("/", async ({ request }) => {
    // The router folds "//" into "/"; the banner is for exactly "/" and nothing else.
    const path = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
    const status = path === "/" || path.startsWith("/?") ? 200 : 404;
    if (status === 200 && statusPage && wantsHtml(request.headers.get("accept"))) {
      return new Response(await statusPage(), {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": PAGE_POLICY,
          "x-content-type-options": "nosniff",
          "cache-control": "no-store",
          vary: "Accept",
        },
      });
    }
    const body = status === 200 ? BANNER : "404 page not found\n";
    return new Response(body, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", vary: "Accept" },
    });
  });
}

/** Browsers ask for text/html first; curl and monitors send * / * or nothing. */
function wantsHtml(accept: string | null): boolean {
  return accept !== null && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}
