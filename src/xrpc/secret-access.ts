/**
 * Who may see and change a repo's secrets: what the three secrets methods share. `repo` is the
 * at-uri of the repo's sh.tangled.repo record (as the appview names it there); it must be a
 * repo this spindle serves, with a repo DID (secrets belong to the repo DID, and survive
 * renames), and the caller needs its settings rights: its owner or a collaborator.
 */
import type { Membership, TrackedRepo } from "../tangled/membership.ts";
import { XrpcError } from "./errors.ts";

const REPO_URI =
  /^at:\/\/(did:[a-z]+:[A-Za-z0-9._:%-]+)\/sh\.tangled\.repo\/([A-Za-z0-9._~:-]{1,512})$/;

export function secretsRepo(
  membership: Membership,
  uri: string,
  actor: string,
): TrackedRepo & { repoDid: string } {
  const parts = REPO_URI.exec(uri);
  if (!parts?.[1] || !parts[2]) {
    throw new XrpcError(400, "InvalidRepo", `supplied repo identifier is invalid: ${uri}`);
  }
  const repo = membership.repoByRecord(parts[1], parts[2]);
  if (!repo || !membership.isAllowed(repo.did)) {
    throw new XrpcError(400, "RepoNotFound", "failed to access repository");
  }
  const { repoDid } = repo;
  if (!repoDid) throw new XrpcError(400, "InvalidRepo", `repo record ${uri} has no repoDid`);
  if (!membership.hasPushRights(actor, repo)) {
    throw new XrpcError(
      401,
      "AccessControl",
      `DID does not have sufficient access permissions for this operation: ${actor}`,
    );
  }
  return { ...repo, repoDid };
}
