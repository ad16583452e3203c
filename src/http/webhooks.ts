/**
 * POST /webhooks/{provider} — CI webhooks, handed to the provider with the exact bytes.
 *
 * A provider this build knows but this spindle has not configured answers 503, fail-closed: a
 * misdirected webhook gets "not accepting" rather than a misleading 200. An unknown name is
 * 404; neither has its body read. Bodies over 1 MiB never get here (413 from the server's body
 * limit), and the body is read within the in-flight limits (body-limits.ts). Everything after
 * that (verification, parsing, de-duplication, state) is the provider's, per the contract on
 * Provider.webhook.
 */
import { Elysia, t } from "elysia";
import type { Metrics } from "../metrics.ts";
import { providerNames } from "../providers/catalog.ts";
import type { ProviderRegistry } from "../providers/registry.ts";
import type { WebhookBodies } from "./body-limits.ts";

/** Providers this build can run, configured or not. */
const KNOWN_PROVIDERS = new Set(providerNames());

export function webhooksRoutes(deps: {
  providers: ProviderRegistry;
  metrics: Metrics;
  webhookBodies: WebhookBodies;
}) {
  return new Elysia({ name: "webhooks" }).post(
    "/webhooks/:provider",
    async ({ params, request }) => {
      const name = params.provider;
      const provider = deps.providers.get(name);
      if (!provider) {
        if (!KNOWN_PROVIDERS.has(name)) return text(404, "404 page not found\n");
        deps.metrics.webhooks.inc({ provider: name, result: "unconfigured" });
        return text(503, `${name} provider not configured on this spindle\n`);
      }
      const webhook = provider.webhook;
      if (!webhook) return text(404, "404 page not found\n");
      return deps.webhookBodies.read(request, name, async (body) => {
        const response = await webhook({ headers: request.headers, body });
        deps.metrics.webhooks.inc({ provider: name, result: response.result });
        return text(response.status, response.body);
      });
    },
    { parse: "none", params: t.Object({ provider: t.String({ maxLength: 64 }) }) },
  );
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
