/** `tack check`'s rows for one provider, from its descriptor, on a scratch database. */
import { systemClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { checkProviders } from "../../src/providers/catalog.ts";
import { WebhookDeliveries } from "../../src/providers/deliveries.ts";
import type { ProviderCheck } from "../../src/providers/provider.ts";
import { SpawnAttempts } from "../../src/providers/spawn-attempts.ts";
import { memoryTack } from "../helpers/memory.ts";

export async function checkRows(name: string, config: unknown): Promise<ProviderCheck[]> {
  const tack = memoryTack();
  try {
    const rows = await checkProviders(
      { [name]: config },
      {
        db: tack.database.db,
        writer: tack.writer,
        workflows: tack.workflows,
        log: silentLogger,
        clock: systemClock,
        metrics: new Metrics(),
        deliveries: new WebhookDeliveries(tack.database.db),
        attempts: new SpawnAttempts(tack.database.db, tack.writer),
        dev: true,
      },
      5_000,
    );
    return rows.filter(
      (row) => row.name.startsWith(name) && !row.detail.startsWith("not configured"),
    );
  } finally {
    tack.database.close();
  }
}
