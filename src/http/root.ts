/**
 * GET / — a plain-text calling card for the curious operator and a liveness check during
 * deployment. Only exactly "/" answers; every other unknown path is a 404 (see app.ts).
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

export function rootRoutes() {
  return new Elysia({ name: "root" }).get("/", ({ request }) => {
    // The router folds "//" into "/"; the banner is for exactly "/" and nothing else.
    const path = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
    const status = path === "/" || path.startsWith("/?") ? 200 : 404;
    const body = status === 200 ? BANNER : "404 page not found\n";
    return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
  });
}
