/**
 * The sh.tangled.ci.pipeline object today's appview reads through queryPipelines and
 * getPipeline, derived from a recorded pipeline and its workflows:
 * - `trigger` is the lexicon union with `$type` first; `commit` is the commit it runs on;
 * - `workflows` follow the record's order, each name once; a workflow with no status yet is
 *   `pending`; `startedAt` is its `running` status's createdAt, `finishedAt` its terminal
 *   one's, `error` the latest status's error.
 * Absent optional fields are undefined; serialised with canonicalJson, keys come out in the
 * order Go's generated structs use (alphabetical, `$type` first), as the upstream spindle's do.
 */
import type { StoredPipeline } from "./pipelines.ts";
import { uniqueWorkflows } from "./runner.ts";
import { formatCreatedAt, type WorkflowStatus } from "./status.ts";
import type { Workflows, WorkflowTimes } from "./workflows.ts";

export type CiWorkflow = {
  error?: string;
  finishedAt?: string;
  id: string;
  name: string;
  startedAt?: string;
  status: WorkflowStatus;
};

export type CiTrigger =
  | { $type: "sh.tangled.ci.trigger#push"; newSha: string; oldSha: string; ref: string }
  | {
      $type: "sh.tangled.ci.trigger#pullRequest";
      action?: PullRequestAction;
      pull?: string;
      sourceBranch: string;
      sourceRepo?: string;
      sourceSha: string;
      targetBranch: string;
    }
  | {
      $type: "sh.tangled.ci.trigger#manual";
      inputs?: { key: string; value: string }[];
      ref?: string;
      sha: string;
      sourceRepo?: string;
    };

export type CiPipeline = {
  commit: string;
  createdAt: string;
  id: string;
  repo: string;
  sourceRepo?: string;
  trigger: CiTrigger;
  workflows: CiWorkflow[];
};

type PullRequestAction = "opened" | "reopened" | "closed" | "merged" | "synchronize";
const ACTIONS: readonly PullRequestAction[] = [
  "opened",
  "reopened",
  "closed",
  "merged",
  "synchronize",
];

export function toCiPipeline(
  pipeline: StoredPipeline,
  workflows: Map<string, WorkflowTimes>,
): CiPipeline {
  return {
    commit: pipeline.commit,
    createdAt: formatCreatedAt(Number(pipeline.created / 1_000_000_000n)),
    id: pipeline.rkey,
    repo: pipeline.repo,
    sourceRepo: pipeline.record.triggerMetadata.sourceRepo,
    trigger: ciTrigger(pipeline),
    workflows: uniqueWorkflows(pipeline).map(({ name }) => ciWorkflow(name, workflows.get(name))),
  };
}

/** A page of pipelines in the view, their workflows read in one query per knot. */
export function toCiPipelines(
  page: StoredPipeline[],
  workflows: Pick<Workflows, "ofPipelines">,
): CiPipeline[] {
  const knots = new Map<string, Map<string, Map<string, WorkflowTimes>>>();
  for (const knot of new Set(page.map((pipeline) => pipeline.knot))) {
    const rkeys = page.filter((p) => p.knot === knot).map((p) => p.rkey);
    knots.set(knot, workflows.ofPipelines(knot, rkeys));
  }
  return page.map((pipeline) =>
    toCiPipeline(pipeline, knots.get(pipeline.knot)?.get(pipeline.rkey) ?? new Map()),
  );
}

function ciTrigger(pipeline: StoredPipeline): CiTrigger {
  const trigger = pipeline.record.triggerMetadata;
  if (trigger.kind === "push" && trigger.push) {
    const { newSha, oldSha, ref } = trigger.push;
    return { $type: "sh.tangled.ci.trigger#push", newSha, oldSha, ref };
  }
  if (trigger.kind === "pull_request" && trigger.pullRequest) {
    const pull = trigger.pullRequest;
    return {
      $type: "sh.tangled.ci.trigger#pullRequest",
      action: pullRequestAction(pull.action),
      pull: pull.pull,
      sourceBranch: pull.sourceBranch,
      sourceRepo: trigger.sourceRepo,
      sourceSha: pull.sourceSha,
      targetBranch: pull.targetBranch,
    };
  }
  // Manual. Intake refuses a trigger without its kind's data, so `sha` is there.
  const manual = trigger.manual;
  return {
    $type: "sh.tangled.ci.trigger#manual",
    inputs: manual?.inputs?.length ? manual.inputs : undefined,
    ref: manual?.ref,
    sha: manual?.sha ?? pipeline.commit,
    sourceRepo: trigger.sourceRepo,
  };
}

/** Knots wrote "create" for an opened pull request before the lexicon named the actions. */
function pullRequestAction(action: string | undefined): PullRequestAction | undefined {
  if (action === "create") return "opened";
  return ACTIONS.find((known) => known === action);
}

function ciWorkflow(name: string, times: WorkflowTimes | undefined): CiWorkflow {
  return {
    error: times?.error ?? undefined,
    finishedAt: times?.finishedAt ?? undefined,
    id: name,
    name,
    startedAt: times?.startedAt ?? undefined,
    status: times?.status ?? "pending",
  };
}
