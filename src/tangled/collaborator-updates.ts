/**
 * sh.tangled.repo.collaboratorUpdate events on a knot's stream: the knot adding or removing a
 * collaborator of one of its repos. Applied only for repos tracked here and only when the
 * announcing knot is the repo's own; anything else is logged and changes nothing.
 */
import { Value } from "@sinclair/typebox/value";
import type { Writer } from "../db/writer.ts";
import type { Logger } from "../log.ts";
import type { KnotEventHandler } from "./knots.ts";
import { CollaboratorUpdate } from "./lexicons.ts";
import type { Membership } from "./membership.ts";

export function collaboratorUpdateHandler(deps: {
  writer: Writer;
  membership: Membership;
  log: Logger;
}): KnotEventHandler {
  const log = deps.log.child({ component: "collaborators" });
  return async (knot, rkey, event) => {
    if (!Value.Check(CollaboratorUpdate, event)) {
      log.warn("collaborator: rejected, malformed update", { knot, event_rkey: rkey });
      return;
    }
    const applied = await deps.writer.write((tx) =>
      deps.membership.applyKnotCollaborator(tx, knot, event),
    );
    const fields = { knot, repo: event.repo, subject: event.subject, op: event.op };
    if (applied) log.info("collaborator: updated by the repo's knot", fields);
    else log.debug("collaborator: ignored, not a repo of this spindle on that knot", fields);
  };
}
