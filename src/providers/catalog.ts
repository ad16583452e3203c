/**
 * Every provider this build of tack knows, and the one place the rest of tack learns them from:
 * configuration (their TACK_* variables), the CLI help, the webhook route, `tack check`,
 * retention and the database schema (each provider's table.ts) all read this list. A new CI is
 * a folder under providers/ with a descriptor, plus one line here and its docs.
 *
 * Each provider is built with a guard around it: its logger, the statuses it publishes and the
 * errors it throws pass through the Redactor, which knows every configured secret and the
 * build variables handed to recent spawns.
 */

import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { StatusDetail, Workflows } from "../pipeline/workflows.ts";
import { withTimeout } from "../timeout.ts";
import { buildkite } from "./buildkite/index.ts";
import type { WebhookDeliveries } from "./deliveries.ts";
import { fake } from "./fake/index.ts";
import { github } from "./github/index.ts";
import { gitlab } from "./gitlab/index.ts";
import type {
  ConfigOf,
  Provider,
  ProviderCheck,
  ProviderDeps,
  ProviderDescriptor,
  WorkflowStore,
} from "./provider.ts";
import { Redactor } from "./redact.ts";
import { sourcehut } from "./sourcehut/index.ts";
import type { SpawnAttempts } from "./spawn-attempts.ts";

export const CATALOG = [fake, buildkite, github, sourcehut, gitlab] as const;

type Catalogued = (typeof CATALOG)[number];

/** Each enabled provider's config, by name (absent when its variables leave it off). */
export type ProviderConfigs = { [D in Catalogued as D["name"]]?: ConfigOf<D> };

export interface CatalogDeps {
  db: Db;
  writer: Writer;
  workflows: Workflows;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  deliveries: WebhookDeliveries;
  attempts: SpawnAttempts;
  /** TACK_DEV. */
  dev: boolean;
  /** The fetch providers call (tests may pass one that records requests). */
  fetch?: typeof fetch;
}

/** The names `POST /webhooks/:provider` and `tack:` blocks may use. */
export function providerNames(catalog: readonly ProviderDescriptor[] = CATALOG): string[] {
  return catalog.map((descriptor) => descriptor.name);
}

/** Builds the enabled providers, each guarded (see above), in the catalog's order. */
export function configuredProviders(
  configs: Partial<Record<string, unknown>>,
  deps: CatalogDeps,
  catalog: readonly ProviderDescriptor[] = CATALOG,
): Promise<Provider[]> {
  const redactor = redactorFor(configs, catalog);
  return Promise.all(
    enabled(configs, catalog).map(async ({ descriptor, config }) =>
      guard(
        await descriptor.create(config, providerDeps(descriptor.name, deps, redactor)),
        redactor,
      ),
    ),
  );
}

/**
 * `tack check` rows for every provider: its API's answers, or why it is off. A provider whose
 * API does not answer within `timeoutMs` (or whose check throws) gets one failing row.
 */
export async function checkProviders(
  configs: Partial<Record<string, unknown>>,
  deps: CatalogDeps,
  timeoutMs: number,
  catalog: readonly ProviderDescriptor[] = CATALOG,
): Promise<ProviderCheck[]> {
  const redactor = redactorFor(configs, catalog);
  const rows: ProviderCheck[] = [];
  for (const descriptor of catalog) {
    const config = configs[descriptor.name];
    if (config === undefined) {
      if (descriptor.enabledBy) {
        rows.push({
          name: descriptor.name,
          ok: true,
          detail: `not configured (${descriptor.enabledBy} unset)`,
        });
      }
      continue;
    }
    if (!descriptor.check) continue;
    try {
      const checked = await withTimeout(
        descriptor.check(config, providerDeps(descriptor.name, deps, redactor)),
        timeoutMs,
      );
      rows.push(...checked.map((row) => ({ ...row, detail: redactor.redact(row.detail) })));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      rows.push({ name: descriptor.name, ok: false, detail: redactor.redact(reason) });
    }
  }
  return rows;
}

function enabled(
  configs: Partial<Record<string, unknown>>,
  catalog: readonly ProviderDescriptor[],
): { descriptor: ProviderDescriptor; config: unknown }[] {
  return catalog.flatMap((descriptor) => {
    const config = configs[descriptor.name];
    return config === undefined ? [] : [{ descriptor, config }];
  });
}

function providerDeps(name: string, deps: CatalogDeps, redactor: Redactor): ProviderDeps {
  return {
    db: deps.db,
    writer: deps.writer,
    workflows: redactingStore(deps.workflows, redactor),
    deliveries: deps.deliveries,
    attempts: deps.attempts,
    log: redactor.logger(deps.log.child({ provider: name })),
    clock: deps.clock,
    metrics: deps.metrics,
    fetch: deps.metrics.instrumentFetch(name, deps.fetch),
    redactor,
    dev: deps.dev,
  };
}

/** Every secret the enabled providers' configs hold. */
function redactorFor(
  configs: Partial<Record<string, unknown>>,
  catalog: readonly ProviderDescriptor[],
): Redactor {
  return new Redactor(
    enabled(configs, catalog).flatMap(
      ({ descriptor, config }) => descriptor.secrets?.(config) ?? [],
    ),
  );
}

/** The workflow store as a provider sees it: what it publishes is redacted first. */
function redactingStore(workflows: Workflows, redactor: Redactor): WorkflowStore {
  return {
    get: (id) => workflows.get(id),
    unfinished: (provider) => workflows.unfinished(provider),
    transition: (id, status, detail: StatusDetail = {}, also) =>
      workflows.transition(
        id,
        status,
        detail.error === undefined ? detail : { ...detail, error: redactor.redact(detail.error) },
        also,
      ),
  };
}

/**
 * Spawn and cancel errors are published (a failed status) and logged by the core: they leave
 * the provider redacted, and a spawn's build variables are remembered as secrets from then on.
 */
function guard(provider: Provider, redactor: Redactor): Provider {
  const redacted = (error: unknown): unknown => {
    if (!(error instanceof Error)) return new Error(redactor.redact(String(error)));
    error.message = redactor.redact(error.message);
    return error;
  };
  // Providers are plain objects of closures, so the copy keeps every other method working.
  return {
    ...provider,
    async spawn(workflow, variables) {
      for (const value of Object.values(variables)) redactor.remember(value);
      try {
        await provider.spawn(workflow, variables);
      } catch (error) {
        throw redacted(error);
      }
    },
    async cancel(workflow) {
      try {
        await provider.cancel(workflow);
      } catch (error) {
        throw redacted(error);
      }
    },
  };
}
