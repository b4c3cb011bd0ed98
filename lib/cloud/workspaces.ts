import { BitbucketResponseError } from '../core/errors';
import { isJsonObject, optionalString, parseJson } from '../core/json';
import { type Page, parsePage } from './pages';
import type { MinimumWorkspaceRole } from './options';
import type { BitbucketWorkspace, WorkspaceRole } from './types';


/**
 * Roles in rising order: owner > create-project > member ≥ collaborator. `collaborator` is
 * deprecated by Bitbucket and ranks with `member`. A role that is missing or unknown
 * (`guest`, `none`, one Atlassian adds later) ranks below every gate: it never permits.
 */
const RANK: Readonly<Record<string, number>> = { collaborator: 1, member: 1, 'create-project': 2, owner: 3 };
const UNKNOWN = 0;

/** `${userWorkspacesURL}/${slug}/permission`: the caller's role in one workspace. */
export function permissionURL(userWorkspacesURL: string, slug: string): string {
  return `${userWorkspacesURL.replace(/\/+$/, '')}/${encodeURIComponent(slug)}/permission`;
}

/**
 * Parses `GET /2.0/user/workspaces/{slug}/permission` (a `workspace_membership`). Throws
 * `BitbucketResponseError` on any other shape.
 */
export function parsePermission(body: string): BitbucketWorkspace {
  const parsed = parseJson(body);
  const json = parsed.ok ? parsed.value : undefined;
  const workspace = isJsonObject(json) ? json['workspace'] : undefined;
  const slug = isJsonObject(workspace) ? optionalString(workspace, 'slug') : undefined;
  if (!isJsonObject(json) || !isJsonObject(workspace) || !slug) {
    throw new BitbucketResponseError('Failed to parse the workspace permission: the answer has no workspace slug');
  }
  const entry: BitbucketWorkspace = {
    slug,
    uuid: optionalString(workspace, 'uuid') ?? '',
    administrator: optionalString(json, 'permission') === 'owner',
  };
  const name = optionalString(workspace, 'name');
  if (name) entry.name = name;
  const permission = optionalString(json, 'permission');
  if (permission) entry.permission = permission as WorkspaceRole;
  return entry;
}

/** Parses one page of `GET /2.0/user/workspaces` (`workspace_access` entries). */
export function parseWorkspacesPage(body: string): Page<BitbucketWorkspace> {
  return parsePage(body, 'workspaces', parseAccess, 'an entry has no workspace slug');
}

function parseAccess(entry: unknown): BitbucketWorkspace | undefined {
  const workspace = isJsonObject(entry) ? entry['workspace'] : undefined;
  const slug = isJsonObject(workspace) ? optionalString(workspace, 'slug') : undefined;
  if (!isJsonObject(entry) || !isJsonObject(workspace) || !slug) return undefined;
  const access: BitbucketWorkspace = {
    slug,
    uuid: optionalString(workspace, 'uuid') ?? '',
    administrator: entry['administrator'] === true,
  };
  // NOTE: Bitbucket does not promise the display name in this listing; kept when it is there.
  const name = optionalString(workspace, 'name');
  if (name) access.name = name;
  return access;
}

/**
 * `fetchWorkspaces` and `workspaces` together: every workspace of the listing, with the name
 * and role that the permission requests found for the checked ones.
 */
export function mergeWorkspaces(listed: readonly BitbucketWorkspace[], checked: readonly BitbucketWorkspace[]): BitbucketWorkspace[] {
  const bySlug = new Map(checked.map((w) => [w.slug.toLowerCase(), w]));
  return listed.map((w) => {
    const known = bySlug.get(w.slug.toLowerCase());
    return known ? { ...w, ...known, administrator: w.administrator || known.administrator } : w;
  });
}

/** True when one of the memberships is in an allowed workspace with at least the minimum role. */
export function isPermitted(
  memberships: readonly BitbucketWorkspace[],
  allowed: readonly string[],
  minimumRole: MinimumWorkspaceRole,
): boolean {
  const slugs = new Set(allowed.map((s) => s.toLowerCase()));
  const needed = rank(minimumRole);
  return memberships.some((m) => slugs.has(m.slug.toLowerCase()) && rank(m.permission) >= needed);
}

/**
 * Why a user was refused when an allowed workspace answered a role this package does not
 * know (or none), naming it; undefined when every role was known.
 */
export function unknownRoleMessage(memberships: readonly BitbucketWorkspace[], allowed: readonly string[]): string | undefined {
  const slugs = new Set(allowed.map((s) => s.toLowerCase()));
  const odd = memberships.find((m) => slugs.has(m.slug.toLowerCase()) && rank(m.permission) === UNKNOWN);
  if (!odd) return undefined;
  if (odd.permission === undefined) return `Bitbucket reported no role in workspace ${odd.slug}.`;
  return `Bitbucket reported the role ${JSON.stringify(odd.permission.slice(0, 40))} in workspace ${odd.slug}, which this package does not know.`;
}

function rank(role: string | undefined): number {
  return role !== undefined && Object.hasOwn(RANK, role) ? (RANK[role] ?? UNKNOWN) : UNKNOWN;
}
