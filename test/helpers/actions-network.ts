/**
 * The setting for tests of the authenticated XRPC methods: the sh.tangled.ci network (Jetstream,
 * knot, tack) plus a PLC directory and PDS stand-in holding the callers' DID documents, callers
 * with real signing keys, and a CI stand-in ("held") whose builds run until told otherwise.
 */

import type { Config } from "../../src/config.ts";
import type { Workflows } from "../../src/pipeline/workflows.ts";
import type { Provider } from "../../src/providers/provider.ts";
import type { TackOverrides } from "../../src/tack.ts";
import { ciNetwork, REPO_DID } from "./ci-network.ts";
import { FakeAtproto } from "./fake-atproto.ts";
import { type Algorithm, createSigner, serviceToken, type TestSigner } from "./service-auth.ts";
import type { TestTack } from "./tack.ts";
import { MEMBER, OWNER, STRANGER } from "./wire.ts";

export const AUDIENCE = "did:web:spindle.test";

export interface Caller {
  did: string;
  signer: TestSigner;
  /** An Authorization header for one call of `method`. */
  auth(method: string, claims?: { aud?: string; lxm?: string | null }): string;
}

/** A CI whose builds start running and stay there; it records cancels and can refuse them. */
export class HeldCi {
  readonly cancelled: string[] = [];
  refuseCancel = false;
  private workflows: Workflows | undefined;

  provider(deps: { workflows: Workflows }): Provider {
    this.workflows = deps.workflows;
    return {
      name: "held",
      checkOptions: () => undefined,
      spawn: async (workflow) => {
        void deps.workflows.transition(workflow.id, "running");
      },
      logs: async () => (async function* () {})(),
      cancel: async (workflow) => {
        if (this.refuseCancel) throw new Error("the CI refused to cancel");
        this.cancelled.push(workflow.id.name);
      },
      resume: async () => {},
      stop: async () => {},
    };
  }

  /** The CI reports the build of `name` finished (as a late webhook would). */
  finish(knot: string, pipelineRkey: string, name: string): Promise<boolean> {
    if (!this.workflows) throw new Error("held CI not started");
    return this.workflows.transition({ knot, pipelineRkey, name }, "success");
  }
}

export async function actionsNetwork(
  defer: (step: () => unknown) => void,
  alg: Algorithm = "ES256",
  overrides: TackOverrides = {},
  config: Partial<Config> = {},
) {
  const atproto = FakeAtproto.start();
  defer(() => atproto.stop());
  const callers = new Map<string, Caller>();
  for (const did of [OWNER, MEMBER, STRANGER]) {
    const signer = createSigner(alg);
    atproto.addIdentity(did, { signingKey: signer.multikey });
    callers.set(did, caller(did, signer));
  }
  const ci = new HeldCi();
  const network = await ciNetwork(
    defer,
    { providers: (deps) => [ci.provider(deps)], ...overrides },
    { plcUrl: atproto.url, ...config },
  );
  const get = (did: string) => {
    const found = callers.get(did);
    if (!found) throw new Error(`no caller ${did}`);
    return found;
  };
  return {
    ...network,
    atproto,
    ci,
    owner: get(OWNER),
    member: get(MEMBER),
    stranger: get(STRANGER),
  };
}

export function caller(did: string, signer: TestSigner): Caller {
  return {
    did,
    signer,
    auth: (method, claims = {}) =>
      `Bearer ${serviceToken(signer, {
        iss: did,
        aud: claims.aud ?? AUDIENCE,
        lxm: claims.lxm === undefined ? method : claims.lxm,
      })}`,
  };
}

/** POSTs `body` to an XRPC procedure with `authorization`. */
export async function xrpcPost(
  service: TestTack,
  method: string,
  body: unknown,
  authorization?: string,
): Promise<{
  status: number;
  text: string;
  body: { error?: string; message?: string; pipeline?: string };
}> {
  const response = await fetch(`${service.http}/xrpc/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(authorization ? { authorization } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : {} };
}

export { REPO_DID };
