/** Buildkite provider (issue 4). Scaffolding: the implementation replaces this file. */
import type { BuildkiteConfig } from "../../config.ts";
import type { Provider, ProviderDeps } from "../provider.ts";

export function createBuildkiteProvider(_config: BuildkiteConfig, _deps: ProviderDeps): Provider {
  const unavailable = async (): Promise<never> => {
    throw new Error("buildkite provider: not implemented yet");
  };
  return {
    name: "buildkite",
    checkOptions: () => "the buildkite provider is not implemented yet",
    spawn: unavailable,
    logs: unavailable,
    cancel: unavailable,
    resume: async () => {},
    stop: async () => {},
  };
}
