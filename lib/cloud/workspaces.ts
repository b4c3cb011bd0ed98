import { BitbucketResponseError } from '../core/errors';
import { member, optionalString, parseObject } from '../core/json';
import { type Page, parsePage } from './pages';
import type { MinimumWorkspaceRole } from './options';
import type { BitbucketWorkspace, WorkspaceRole } from './types';

/**
 * Roles in rising order: owner > create-project > member ≥ collaborator. `collaborator` is
 * deprecated by Bitbucket and ranks with `member`. A role that is missing or unknown
 * (`guest`, `none`, one Atlassian adds later) ranks below every gate: it never permits.
 */
const RANK: ReadonlyMap<string | undefined, number> = new Map([['collaborator', 1], ['member', 1], ['create-project', 2], ['owner', 3]]);
const UNKNOWN = 0;

/**
 * Parses `GET /2.0/user/workspaces/{slug}/permission` (a `workspace_membership`). Throws
 * `BitbucketResponseError` on any other shape.
 */
export function parsePermission(body: string): BitbucketWorkspace {
  const json = parseObject(body);
  const permission = optionalString(json, 'permission');
  const entry = workspaceOf(json, permission === 'owner');
  if (!entry) throw new BitbucketResponseError('Failed to parse the workspace permission: the answer has no workspace slug');
  if (permission) entry.permission = permission as WorkspaceRole;
  return entry;
}

/** Parses one page of `GET /2.0/user/workspaces` (`workspace_access` entries). */
export function parseWorkspacesPage(body: string): Page<BitbucketWorkspace> {
  return parsePage(body, 'workspaces', (entry) => workspaceOf(entry, member(entry, 'administrator') === true), 'an entry has no workspace slug');
}

/** The `workspace` of a membership or access entry, when it has a slug. */
function workspaceOf(entry: unknown, administrator: boolean): BitbucketWorkspace | undefined {
  const workspace = member(entry, 'workspace');
  const slug = optionalString(workspace, 'slug');
  if (!slug) return undefined;
  const found: BitbucketWorkspace = { slug, uuid: optionalString(workspace, 'uuid') ?? '', administrator };
  // NOTE: Bitbucket does not promise the display name in the listing; kept when it is there.
  const name = optionalString(workspace, 'name');
  if (name) found.name = name;
  return found;
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
  const needed = rank(minimumRole);
  return inAllowed(memberships, allowed).some((m) => rank(m.permission) >= needed);
}

/**
 * Why a user was refused when an allowed workspace answered a role this package does not
 * know (or none), naming it; undefined when every role was known.
 */
export function unknownRoleMessage(memberships: readonly BitbucketWorkspace[], allowed: readonly string[]): string | undefined {
  const odd = inAllowed(memberships, allowed).find((m) => rank(m.permission) === UNKNOWN);
  if (!odd) return undefined;
  if (odd.permission === undefined) return `Bitbucket reported no role in workspace ${odd.slug}.`;
  return `Bitbucket reported the role ${JSON.stringify(odd.permission.slice(0, 40))} in workspace ${odd.slug}, which this package does not know.`;
}

function inAllowed(memberships: readonly BitbucketWorkspace[], allowed: readonly string[]): BitbucketWorkspace[] {
  const slugs = new Set(allowed.map((s) => s.toLowerCase()));
  return memberships.filter((m) => slugs.has(m.slug.toLowerCase()));
}

function rank(role: string | undefined): number {
  return RANK.get(role) ?? UNKNOWN;
}
