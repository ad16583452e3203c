/**
 * The Tangled side of an end-to-end test in two calls: a repo that uses the spindle, announced
 * on the local Jetstream and followed on the local knot; and a pipeline trigger pushed on it.
 */
import type { FakeJetstream } from "./fake-jetstream.ts";
import type { FakeKnot } from "./fake-knot.ts";
import { until } from "./wait.ts";
import { freshSha, newTid, OWNER, pipelineRecord, repoRecord, type WorkflowFile } from "./wire.ts";

/**
 * Waits for tack's Jetstream connection, announces `did`'s repo `name` (and `repoDid`, when
 * given) on `knot` naming `spindle`, and waits until tack follows the knot.
 */
export async function followedRepo(
  jetstream: FakeJetstream,
  knot: FakeKnot,
  options: { spindle?: string; did?: string; name?: string; repoDid?: string } = {},
): Promise<void> {
  await until(() => jetstream.openConnections === 1, "jetstream connection");
  jetstream.commit(
    options.did ?? OWNER,
    "sh.tangled.repo",
    "create",
    newTid(),
    repoRecord({
      name: options.name ?? "app",
      knot: knot.host,
      spindle: options.spindle ?? "spindle.test",
      repoDid: options.repoDid,
    }),
  );
  await until(() => knot.openConnections === 1, "knot followed");
}

/**
 * Announces a new push to main (a commit no other call uses) as a legacy knot pipeline with
 * these workflow files; returns its rkey.
 */
export function pushTrigger(
  knot: FakeKnot,
  workflows: WorkflowFile[],
  options: { did?: string; name?: string; sha?: string } = {},
): string {
  return knot.push(
    "sh.tangled.pipeline",
    pipelineRecord({
      knot: knot.host,
      did: options.did ?? OWNER,
      repo: options.name ?? "app",
      workflows,
      sha: options.sha ?? freshSha(),
    }),
  );
}
