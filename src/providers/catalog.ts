/**
 * Builds the providers this spindle runs from its Config: `fake` always (no account needed),
 * the others when their token is configured. Each gets its own instrumented fetch and logger.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/client.ts";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Workflows } from "../pipeline/workflows.ts";
import { createBuildkiteProvider } from "./buildkite/index.ts";
import type { WebhookDeliveries } from "./deliveries.ts";
import { createFakeProvider } from "./fake/index.ts";
import { createGithubProvider } from "./github/index.ts";
import type { Provider, ProviderDeps } from "./provider.ts";

export interface CatalogDeps {
  db: Db;
  writer: Writer;
  workflows: Workflows;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  deliveries: WebhookDeliveries;
  /** The fetch providers call (tests may pass one that records requests). */
  fetch?: typeof fetch;
}

export function configuredProviders(config: Config, deps: CatalogDeps): Provider[] {
  const depsFor = (name: string): ProviderDeps => ({
    ...deps,
    log: deps.log.child({ provider: name }),
    fetch: deps.metrics.instrumentFetch(name, deps.fetch),
  });
  const providers: Provider[] = [createFakeProvider({ workflows: deps.workflows, log: deps.log })];
  if (config.buildkite)
    providers.push(createBuildkiteProvider(config.buildkite, depsFor("buildkite")));
  if (config.github) {
    providers.push(createGithubProvider(config.github, depsFor("github"), { dev: config.dev }));
  }
  return providers;
}
