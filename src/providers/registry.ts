/** The providers this process runs, by the name a workflow's `tack:` block uses. */
import type { Provider } from "./provider.ts";

export class ProviderRegistry {
  private readonly byName = new Map<string, Provider>();

  constructor(providers: Provider[]) {
    for (const provider of providers) this.byName.set(provider.name, provider);
  }

  get(name: string): Provider | undefined {
    return this.byName.get(name);
  }

  all(): Provider[] {
    return [...this.byName.values()];
  }
}
