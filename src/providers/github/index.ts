/** GitHub Actions provider (issue 5). Scaffolding: the implementation replaces this file. */
import type { GithubConfig } from "../../config.ts";
import type { Provider, ProviderDeps } from "../provider.ts";

export function createGithubProvider(_config: GithubConfig, _deps: ProviderDeps): Provider {
  const unavailable = async (): Promise<never> => {
    throw new Error("github provider: not implemented yet");
  };
  return {
    name: "github",
    checkOptions: () => "the github provider is not implemented yet",
    spawn: unavailable,
    logs: unavailable,
    cancel: unavailable,
    resume: async () => {},
    stop: async () => {},
  };
}
