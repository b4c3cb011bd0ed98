import { isJsonObject, optionalString } from './json';
import { type Page, parsePage } from './pages';
import type { BitbucketWorkspace } from './types';

/** Roles in rising order: a user meets a minimum role when theirs is at least as high. */
const RANK: Record<string, number> = { member: 1, collaborator: 2, owner: 3 };

/** Parses one page of `GET /2.0/user/permissions/workspaces`. */
export function parseMembershipsPage(body: string): Page<BitbucketWorkspace> {
  return parsePage(body, 'workspace memberships', parseMembership, 'an entry has no workspace slug');
}

function parseMembership(entry: unknown): BitbucketWorkspace | undefined {
  if (!isJsonObject(entry)) return undefined;
  const workspace = entry['workspace'];
  const slug = isJsonObject(workspace) ? optionalString(workspace, 'slug') : undefined;
  if (!isJsonObject(workspace) || !slug) return undefined;
  return {
    slug,
    name: optionalString(workspace, 'name') ?? slug,
    uuid: optionalString(workspace, 'uuid') ?? '',
    permission: optionalString(entry, 'permission') ?? 'member',
  };
}

/** True when one of the memberships is in an allowed workspace with at least the minimum role. */
export function isPermitted(
  memberships: readonly BitbucketWorkspace[],
  allowed: readonly string[],
  minimumRole: 'member' | 'owner',
): boolean {
  const slugs = new Set(allowed.map((s) => s.toLowerCase()));
  return memberships.some(
    (m) => slugs.has(m.slug.toLowerCase()) && (RANK[m.permission] ?? 0) >= (RANK[minimumRole] ?? Infinity),
  );
}

/**
 * Bitbucket's `q` filter for the allowed workspaces. Slugs are checked by the options to hold
 * only letters, digits, `-`, `_` and `.`, so nothing can break out of the quotes.
 */
export function membershipQuery(slugs: readonly string[]): string {
  return slugs.map((slug) => `workspace.slug="${slug}"`).join(' OR ');
}
