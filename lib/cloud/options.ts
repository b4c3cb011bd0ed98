import { endpoint, PREFIX, resolveCommon, type CommonOptions } from '../core/options';

/** Bitbucket Cloud's endpoints. */
export const AUTHORIZATION_URL = 'https://bitbucket.org/site/oauth2/authorize';
export const TOKEN_URL = 'https://bitbucket.org/site/oauth2/access_token';
export const USER_PROFILE_URL = 'https://api.bitbucket.org/2.0/user';
export const USER_EMAILS_URL = 'https://api.bitbucket.org/2.0/user/emails';
export const USER_WORKSPACES_URL = 'https://api.bitbucket.org/2.0/user/workspaces';

/** The roles `minimumWorkspaceRole` accepts, lowest first. */
export const MINIMUM_ROLES = ['member', 'create-project', 'owner'] as const;
export type MinimumWorkspaceRole = (typeof MINIMUM_ROLES)[number];

/**
 * Bitbucket workspace slugs: letters, digits, dashes, underscores and periods, but not `.` or
 * `..`, which a URL would read as a path step (`%` and `/` are outside the set already).
 */
const SLUG = /^(?!\.\.?$)[A-Za-z0-9_.-]{1,100}$/;
/** Each listed workspace is one concurrent request per login: a bound on them. */
const MAX_WORKSPACES = 20;

/** The Cloud strategy's options after checking, with every default filled in. */
export interface ResolvedOptions extends CommonOptions {
  authorizationURL: string;
  tokenURL: string;
  userProfileURL: string;
  userEmailsURL: string;
  userWorkspacesURL: string;
  /** Allowed workspace slugs, or undefined when sign-in is not restricted. */
  workspaces: string[] | undefined;
  minimumWorkspaceRole: MinimumWorkspaceRole;
  fetchWorkspaces: boolean;
  skipEmails: boolean;
  includeUnverifiedEmails: boolean;
}

/**
 * Checks the Cloud strategy's options and returns a new object: the caller's is never changed.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  const common = resolveCommon(options, {
    product: 'cloud',
    booleans: ['skipEmails', 'includeUnverifiedEmails', 'fetchWorkspaces'],
    credentials: { id: 'Key', secret: 'Secret', where: "Bitbucket OAuth consumer (Workspace settings → OAuth consumers, the consumer's Key and Secret)" },
  });
  const { input } = common;
  const workspaces = input['workspaces'];
  if (
    workspaces !== undefined &&
    !(Array.isArray(workspaces) && workspaces.length > 0 && workspaces.every((w) => typeof w === 'string' && SLUG.test(w)))
  ) {
    throw new TypeError(
      `${PREFIX} options.workspaces must be a non-empty array of workspace slugs (letters, digits, '-', '_', '.')`,
    );
  }
  const slugs = workspaces === undefined ? undefined : [...new Map((workspaces as string[]).map((w) => [w.toLowerCase(), w])).values()];
  if (slugs && slugs.length > MAX_WORKSPACES) {
    throw new TypeError(`${PREFIX} options.workspaces may list at most ${MAX_WORKSPACES} workspaces (one request each per login)`);
  }
  const minimumRole = input['minimumWorkspaceRole'] ?? 'member';
  if (!MINIMUM_ROLES.includes(minimumRole as MinimumWorkspaceRole)) {
    throw new TypeError(`${PREFIX} options.minimumWorkspaceRole must be ${MINIMUM_ROLES.map((r) => `'${r}'`).join(', ')}`);
  }
  if (workspaces !== undefined && common.maySkipProfile) {
    throw new TypeError(`${PREFIX} options.workspaces needs the profile: it cannot be combined with skipUserProfile`);
  }

  return {
    ...common,
    authorizationURL: endpoint(input, 'authorizationURL', AUTHORIZATION_URL),
    tokenURL: endpoint(input, 'tokenURL', TOKEN_URL),
    userProfileURL: endpoint(input, 'userProfileURL', USER_PROFILE_URL),
    userEmailsURL: endpoint(input, 'userEmailsURL', USER_EMAILS_URL),
    userWorkspacesURL: endpoint(input, 'userWorkspacesURL', USER_WORKSPACES_URL),
    workspaces: slugs,
    minimumWorkspaceRole: minimumRole as MinimumWorkspaceRole,
    fetchWorkspaces: input['fetchWorkspaces'] === true,
    skipEmails: input['skipEmails'] === true,
    includeUnverifiedEmails: input['includeUnverifiedEmails'] === true,
  };
}
