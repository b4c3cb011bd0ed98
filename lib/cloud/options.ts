import { flags, isEndpointURL, listOf, PREFIX, resolveCommon } from '../core/options';
import type { CommonStrategyOptions } from '../core/types';
import type { Product } from '../core/strategy';

/** Bitbucket Cloud's endpoints, and the options that replace them. */
const ENDPOINTS = {
  authorizationURL: 'https://bitbucket.org/site/oauth2/authorize',
  tokenURL: 'https://bitbucket.org/site/oauth2/access_token',
  userProfileURL: 'https://api.bitbucket.org/2.0/user',
  userEmailsURL: 'https://api.bitbucket.org/2.0/user/emails',
  userWorkspacesURL: 'https://api.bitbucket.org/2.0/user/workspaces',
};

/** The roles `minimumWorkspaceRole` accepts, lowest first. */
const MINIMUM_ROLES = ['member', 'create-project', 'owner'] as const;
export type MinimumWorkspaceRole = (typeof MINIMUM_ROLES)[number];

/** Workspace slugs: letters, digits, `-`, `_` and `.`, but not `.` or `..`, which a URL would read as a path step. */
const SLUG = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$/;
/** Each listed workspace is one concurrent request per login: a bound on them. */
const MAX_WORKSPACES = 20;

/** The Cloud strategy's options (public as `StrategyOptions`, `StrategyOptionsWithRequest`). */
export interface StrategyOptionsBase extends CommonStrategyOptions {
  userProfileURL?: string | undefined;
  userEmailsURL?: string | undefined;
  /** Base of the workspace endpoints: the listing (`fetchWorkspaces`) and `<base>/<slug>/permission` (`workspaces`). */
  userWorkspacesURL?: string | undefined;
  /** Only members of these workspaces (slugs) may sign in; anyone else fails before the verify function. */
  workspaces?: readonly string[] | undefined;
  /** With `workspaces`: the lowest role that may sign in, `member` (default) < `create-project` < `owner`. */
  minimumWorkspaceRole?: 'member' | 'create-project' | 'owner' | undefined;
  /** Fill `profile.workspaces` with every workspace the user can access. Default `false`. */
  fetchWorkspaces?: boolean | undefined;
  /** Do not request `/2.0/user/emails`; `profile.emails` is then `[]`. Default `false`. */
  skipEmails?: boolean | undefined;
  /** Also report unconfirmed addresses (marked `verified: false`). Default `false`. */
  includeUnverifiedEmails?: boolean | undefined;
}

/** Checks the Cloud strategy's options; the caller's object is never changed. */
export function resolveOptions(options: unknown) {
  const common = resolveCommon(options, 'cloud', [
    flags('skipEmails', 'includeUnverifiedEmails', 'fetchWorkspaces'),
    listOf('workspaces', SLUG, "workspace slugs (letters, digits, '-', '_', '.')"),
    [['minimumWorkspaceRole'], (v) => MINIMUM_ROLES.includes(v as MinimumWorkspaceRole), `must be ${MINIMUM_ROLES.map((r) => `'${r}'`).join(', ')}`],
    [Object.keys(ENDPOINTS), isEndpointURL, 'must be an absolute http(s) URL without credentials'],
  ], { minimumWorkspaceRole: 'member' });
  const { values } = common;
  const given = values['workspaces'] as string[] | undefined;
  const workspaces = given && [...new Map(given.map((w) => [w.toLowerCase(), w])).values()];
  if (workspaces && workspaces.length > MAX_WORKSPACES) {
    throw new TypeError(`${PREFIX} options.workspaces may list at most ${MAX_WORKSPACES} workspaces (one request each per login)`);
  }
  if (!workspaces && common.passThrough['minimumWorkspaceRole'] !== undefined) {
    throw new TypeError(`${PREFIX} options.minimumWorkspaceRole needs options.workspaces: without them, no role is checked`);
  }
  if (workspaces && common.maySkipProfile) {
    throw new TypeError(`${PREFIX} options.workspaces needs the profile: it cannot be combined with skipUserProfile`);
  }
  const url = (name: keyof typeof ENDPOINTS): string => (values[name] as string | undefined) ?? ENDPOINTS[name];
  /** An endpoint's URL, changed by `edit`: a page size in its query, a step added to its path (a query on the base stays after it). */
  const changed = (name: keyof typeof ENDPOINTS, edit: (url: URL) => void): string => {
    const at = new URL(url(name));
    edit(at);
    return at.href;
  };
  const paged = (name: keyof typeof ENDPOINTS): string => changed(name, (at) => at.searchParams.set('pagelen', '100'));
  const permissionURL = (slug: string): string =>
    changed('userWorkspacesURL', (at) => { at.pathname = `${at.pathname.replace(/\/+$/, '')}/${encodeURIComponent(slug)}/permission`; });
  const settings = {
    userProfileURL: url('userProfileURL'), emails: paged('userEmailsURL'), workspaceList: paged('userWorkspacesURL'),
    workspaces, permissionURLs: (workspaces ?? []).map((slug) => [slug, permissionURL(slug)] as const),
    minimumWorkspaceRole: values['minimumWorkspaceRole'] as MinimumWorkspaceRole, fetchWorkspaces: values['fetchWorkspaces'] === true,
    skipEmails: values['skipEmails'] === true, includeUnverifiedEmails: values['includeUnverifiedEmails'] === true,
  };
  const ahead = [settings.userProfileURL, ...(settings.skipEmails ? [] : [settings.emails])];
  const product: Product = { name: 'bitbucket', authorizationURL: url('authorizationURL'), tokenURL: url('tokenURL'), clientAuthentication: 'basic', ahead };
  return { common, settings, product };
}
