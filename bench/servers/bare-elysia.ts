/**
 * Baseline for start-up time: the smallest Elysia server, compiled the same way as tack. The
 * design fixes Elysia as tack's HTTP layer, so this is the fastest start tack's stack allows.
 */
import { Elysia } from "elysia";

const port = Number(process.env.PORT ?? 0);
const app = new Elysia().get("/", () => "ok").listen({ hostname: "127.0.0.1", port });
process.stdout.write(`ready ${app.server?.port}\n`);
