import { BitbucketResponseError, type Get, jsonBody, parseFailure } from '../core/errors';
import type { HttpResponse } from '../core/http';
import { httpURL, member, optionalString, parseObject } from '../core/json';
import type { MinimumWorkspaceRole } from './options';
import type { BitbucketEmail, BitbucketWorkspace, Profile, WorkspaceRole } from './types';

/** At most this many pages (100 entries each) are read from a paginated endpoint. */
export const MAX_PAGES = 10;
/** Query parameter names that carry credentials in OAuth and common APIs. */
const CREDENTIAL_PARAMETER =
  /^(access_token|refresh_token|id_token|token|code|code_verifier|client_secret|client_assertion|password|secret|api_key|apikey|jwt|signature|sig)$/i;
/** Roles in rising order; `collaborator` (deprecated) ranks with `member`. A missing or unknown role ranks 0: it never permits. */
const RANK: ReadonlyMap<string | undefined, number> = new Map([['collaborator', 1], ['member', 1], ['create-project', 2], ['owner', 3]]);
const REFUSALS: Readonly<Record<MinimumWorkspaceRole, string>> = {
  member: 'Only members of a permitted Bitbucket workspace may sign in.',
  'create-project': 'Only members of a permitted Bitbucket workspace with the create-project role or higher may sign in.',
  owner: 'Only owners of a permitted Bitbucket workspace may sign in.',
};

/** `object.links[name].href` as Bitbucket nests its links, when it is an absolute http(s) URL. */
const link = (object: unknown, name: string): string | undefined => httpURL(optionalString(member(member(object, 'links'), name), 'href'));

/** Parses `GET /2.0/user` into a profile (with `emails: []`, filled in by the strategy); a `BitbucketResponseError` without a `uuid`. */
export function parseProfile(body: string): Profile {
  const json = jsonBody(body, 'user profile');
  // Every account object says what it is: a workspace or team (a wrong `userProfileURL`, a gateway's own answer) is no user.
  if (json['type'] !== 'user') throw parseFailure('user profile', 'the answer is not a user');
  const uuid = optionalString(json, 'uuid');
  if (!uuid) throw parseFailure('user profile', 'the user has no uuid');
  const username = optionalString(json, 'username') || undefined;
  const nickname = optionalString(json, 'nickname') || undefined;
  const avatar = link(json, 'avatar');
  return {
    provider: 'bitbucket', id: uuid, accountId: optionalString(json, 'account_id') || undefined, nickname,
    displayName: optionalString(json, 'display_name') || nickname || username || '',
    profileUrl: link(json, 'html'), photos: avatar ? [{ value: avatar }] : [], emails: [],
    // NOTE: `username` is deprecated (2019 privacy changes) but still returned for the signed-in user; set only when present.
    ...(username ? { username } : {}),
    _raw: body, _json: json,
  };
}

/** One page of a paginated list, and its `next` link when Bitbucket says there is another. */
export type Page<T> = { values: T[]; next: string | undefined };

/** Parses one page of a paginated list (`{ values: [...], next? }`); `parseValue` returns undefined for an entry it cannot read. */
function parsePage<T>(body: string, what: string, parseValue: (entry: unknown) => T | undefined, entryProblem: string): Page<T> {
  const json = jsonBody(body, what);
  const values = json['values'];
  if (!Array.isArray(values)) throw parseFailure(what, 'the answer has no values list');
  const entries = values.map(parseValue).filter((value) => value !== undefined);
  if (entries.length < values.length) throw parseFailure(what, entryProblem);
  const next = json['next'];
  if (next !== undefined && next !== null && typeof next !== 'string') throw parseFailure(what, 'the next link is not a string');
  return { values: entries, next: next || undefined };
}

/** Turns a non-200 answer into an error, or (by returning a list) into the result. */
type OnError<T> = (response: HttpResponse, firstPage: boolean) => T[] | Error;

/** Every page of a list, at most {@link MAX_PAGES}: `next` only on the endpoint's origin, without a credential, never twice. */
export async function fetchAllPages<T>(what: string, endpoint: string, get: Get, parse: (body: string) => Page<T>, onError: OnError<T>): Promise<T[]> {
  const unsafe = (problem: string) => new BitbucketResponseError(`Failed to fetch ${what}: ${problem}`, { code: 'BITBUCKET_UNSAFE_PAGINATION' });
  const seen = new Set<string>();
  const values: T[] = [];
  for (let url = endpoint, page = 1; ; page += 1) {
    if (page > MAX_PAGES) throw unsafe(`more than ${MAX_PAGES} pages`);
    seen.add(url);
    const response = await get(url);
    const outcome = response.status === 200 ? undefined : onError(response, page === 1);
    if (outcome instanceof Error) throw outcome;
    if (outcome) return outcome;
    const parsed = parse(response.body);
    values.push(...parsed.values);
    if (parsed.next === undefined) return values;
    if (!URL.canParse(parsed.next, endpoint)) throw unsafe('the next link is not a URL');
    const next = new URL(parsed.next, endpoint);
    if (next.origin !== new URL(endpoint).origin || next.username || next.password) throw unsafe("the next link leaves the endpoint's origin");
    if ([...next.searchParams.keys()].some((name) => CREDENTIAL_PARAMETER.test(name))) throw unsafe('the next link carries a credential in its query');
    if (seen.has(next.href)) throw unsafe('the next link loops');
    url = next.href;
  }
}

/** One entry of `/2.0/user/emails` as Bitbucket sends it, checked. */
export type RawEmail = { email: string; isPrimary: boolean; isConfirmed: boolean };

/** Parses one page of `GET /2.0/user/emails`. */
export function parseEmailsPage(body: string): Page<RawEmail> {
  return parsePage(body, 'user emails', (entry): RawEmail | undefined => {
    const email = optionalString(entry, 'email');
    return email ? { email, isPrimary: member(entry, 'is_primary') === true, isConfirmed: member(entry, 'is_confirmed') === true } : undefined;
  }, 'an entry has no email address');
}

/** The confirmed primary, other confirmed, then with `includeUnverified` the unconfirmed (primary last); duplicates (ignoring case) dropped. */
export function orderEmails(raw: readonly RawEmail[], includeUnverified: boolean): BitbucketEmail[] {
  const rank = (e: RawEmail): number => (e.isConfirmed ? (e.isPrimary ? 0 : 1) : e.isPrimary ? 3 : 2);
  const seen = new Set<string>();
  return raw
    .filter((e) => e.isConfirmed || includeUnverified)
    .sort((a, b) => rank(a) - rank(b))
    .filter((e) => !seen.has(e.email.toLowerCase()) && seen.add(e.email.toLowerCase()))
    .map((e) => ({ value: e.email, primary: e.isPrimary, verified: e.isConfirmed }));
}

/** The `workspace` of a membership or access entry, when it has a slug. */
function workspaceOf(entry: unknown, administrator: boolean): BitbucketWorkspace | undefined {
  const workspace = member(entry, 'workspace');
  const slug = optionalString(workspace, 'slug');
  if (!slug) return undefined;
  const name = optionalString(workspace, 'name');
  // NOTE: the listing's entries may lack the display name.
  return { slug, uuid: optionalString(workspace, 'uuid') ?? '', administrator, ...(name ? { name } : {}) };
}

/** Parses `GET /2.0/user/workspaces/{slug}/permission` (a `workspace_membership`); one of another workspace or user (or none) is an error. */
export function parsePermission(body: string, slug?: string, userId?: string): BitbucketWorkspace {
  const json = parseObject(body);
  const permission = optionalString(json, 'permission');
  const entry = workspaceOf(json, permission === 'owner');
  if (!entry) throw parseFailure('the workspace permission', 'the answer has no workspace slug');
  if (slug !== undefined && entry.slug.toLowerCase() !== slug.toLowerCase()) throw parseFailure('the workspace permission', 'it is for another workspace');
  const user = optionalString(member(json, 'user'), 'uuid');
  if (userId !== undefined && user !== userId) throw parseFailure('the workspace permission', 'it is for another user');
  return permission ? { ...entry, permission: permission as WorkspaceRole } : entry;
}

/** Parses one page of `GET /2.0/user/workspaces` (`workspace_access` entries). */
export function parseWorkspacesPage(body: string): Page<BitbucketWorkspace> {
  return parsePage(body, 'workspaces', (entry) => workspaceOf(entry, member(entry, 'administrator') === true), 'an entry has no workspace slug');
}

/** `fetchWorkspaces` with `workspaces`: every listed workspace, with the name and role the permission requests found for the checked ones. */
export function mergeWorkspaces(listed: readonly BitbucketWorkspace[], checked: readonly BitbucketWorkspace[]): BitbucketWorkspace[] {
  return listed.map((w) => {
    const known = checked.find((c) => c.slug.toLowerCase() === w.slug.toLowerCase());
    return known ? { ...w, ...known, administrator: w.administrator || known.administrator } : w;
  });
}

/** Why the workspace rule refuses the user (naming a role it does not know, or none); undefined when an allowed workspace gives the role. */
export function workspaceRefusal(memberships: readonly BitbucketWorkspace[], allowed: readonly string[], minimumRole: MinimumWorkspaceRole) {
  const inAllowed = memberships.filter((m) => allowed.some((s) => s.toLowerCase() === m.slug.toLowerCase()));
  if (inAllowed.some((m) => (RANK.get(m.permission) ?? 0) >= RANK.get(minimumRole)!)) return undefined;
  const odd = inAllowed.find((m) => !RANK.has(m.permission));
  if (!odd) return REFUSALS[minimumRole];
  if (odd.permission === undefined) return `Bitbucket reported no role in workspace ${odd.slug}.`;
  // Only a word is quoted (a cut could keep part of an echoed secret), tested without a RegExp: a match keeps its subject as RegExp.input.
  const word = odd.permission.length <= 40 && [...odd.permission].every((c) => (c >= 'a' && c <= 'z') || c === '_' || c === '-');
  const role = word ? `the role "${odd.permission}"` : 'a role';
  return `Bitbucket reported ${role} in workspace ${odd.slug}, which this package does not know.`;
}
