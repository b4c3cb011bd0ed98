import { clampInt, type Call, type CommonEmulatorOptions, type EmulatorSurface, escapeHtml, sendJson, startEmulator } from './core';

/** The endpoints of the Data Center emulator, as named in `latency`, `faults` and `stats`. */
export type DataCenterEndpoint = 'authorize' | 'token' | 'whoami' | 'user' | 'users' | 'project' | 'repository';

/** A Data Center account the emulator knows. Everything but `name` has a default. */
export interface DataCenterEmulatorUserInput {
  /** The username. */
  name: string;
  displayName?: string;
  /** Default: the name, lower-cased, with characters that are not URL-safe replaced. */
  slug?: string;
  id?: number;
  /** `null`: a directory user without an address. Default `<slug>@example.com`. */
  emailAddress?: string | null;
  /** Default `true`; `false` for a deactivated account. */
  active?: boolean;
  /** Project keys, and repositories (`KEY/slug`), the user can read. */
  projects?: string[];
  repositories?: string[];
}

/** A user as the emulator holds it. Changing it changes what the API answers from then on. */
export type DataCenterEmulatorUser = Required<DataCenterEmulatorUserInput>;

/** `clientID` and `clientSecret` are the application link's Client ID and Client secret: `dc-client`, `dc-secret`. */
export interface DataCenterEmulatorOptions extends CommonEmulatorOptions<DataCenterEndpoint> {
  /** A context path the instance lives under, e.g. `/bitbucket`. Default none. */
  contextPath?: string;
  /** Default: three demo accounts, one whose slug is not its name. */
  users?: DataCenterEmulatorUserInput[];
  /** Where whoami names the user: `body` and header (the default), or `header` alone (observed on 8.19). */
  whoami?: 'body' | 'header';
}

/** What the Data Center strategy needs to talk to this emulator (plain HTTP, on loopback): spread it into its options. */
export type DataCenterEmulatorStrategyOptions = { baseURL: string; clientID: string; clientSecret: string; allowInsecureHTTP: true };

export interface BitbucketDataCenterEmulator extends EmulatorSurface<DataCenterEndpoint, DataCenterEmulatorUser> {
  /** The same as `url`: the instance's base URL, context path included. */
  baseURL: string;
  strategyOptions: DataCenterEmulatorStrategyOptions;
}

const ROUTES: Array<[RegExp, DataCenterEndpoint]> = [
  [/^\/plugins\/servlet\/applinks\/whoami$/, 'whoami'],
  [/^\/rest\/api\/latest\/users\/[^/]+$/, 'user'],
  [/^\/rest\/api\/latest\/users$/, 'users'],
  [/^\/rest\/api\/latest\/projects\/[^/]+$/, 'project'],
  [/^\/rest\/api\/latest\/projects\/[^/]+\/repos\/[^/]+$/, 'repository'],
];
const SCOPES = ['PUBLIC_REPOS', 'REPO_READ', 'REPO_WRITE', 'REPO_ADMIN', 'PROJECT_ADMIN', 'ADMIN_WRITE', 'SYSTEM_ADMIN'];

export const DATA_CENTER_DEMO_USERS: DataCenterEmulatorUserInput[] = [
  { name: 'jdoe', displayName: 'Jane Doe', id: 101, projects: ['ENG'], repositories: ['ENG/portal'] },
  // A username that is not URL-safe gets another slug: found through users?filter=.
  { name: 'j.smith@corp', displayName: 'John Smith', id: 102, slug: 'j.smith_corp', projects: ['OPS'] },
  { name: 'gone', displayName: 'Former Employee', id: 103, active: false },
];

function dcError(message: string, exceptionName = 'com.atlassian.bitbucket.ServiceException'): Record<string, unknown> {
  return { errors: [{ context: null, message, exceptionName }] };
}
const scopesOf = (params: URLSearchParams): string[] => (params.get('scope') ?? 'PUBLIC_REPOS').split(' ').filter(Boolean);

/**
 * Starts a local Bitbucket Data Center on 127.0.0.1: the OAuth 2.0 consent page and token endpoint of an
 * incoming application link, whoami, users by slug and by filter, projects and repositories, behaving as Data
 * Center does (see docs/testing.md), with latency and faults to order.
 *
 * @example
 * ```ts
 * const dc = await startBitbucketDataCenterEmulator({ autoApprove: 'jdoe' });
 * passport.use(new BitbucketDataCenterStrategy({ ...dc.strategyOptions, callbackURL: '/auth/bitbucket-dc/callback' }, verify));
 * ```
 */
export async function startBitbucketDataCenterEmulator(options: DataCenterEmulatorOptions = {}): Promise<BitbucketDataCenterEmulator> {
  const contextPath = (options.contextPath ?? '').replace(/\/+$/, '');
  const users = (options.users ?? DATA_CENTER_DEMO_USERS).map(resolveUser);

  function handle(endpoint: DataCenterEndpoint, { res, url, base, route, grant: found }: Call<DataCenterEmulatorUser>): void {
    const grant = found === 'expired' ? undefined : found;
    if (endpoint === 'whoami') {
      // NOTE: the servlet answers 200 even without a valid token, with nothing in it.
      const name = grant ? grant.user.name : '';
      res.writeHead(200, { 'Content-Type': 'text/plain;charset=UTF-8', 'X-AUSERNAME': encodeURIComponent(name) });
      return void res.end(options.whoami === 'header' ? '' : name);
    }
    if (!grant) return sendJson(res, 401, dcError('Authentication failed. Please check your credentials and try again.', 'com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException'));
    const needed = endpoint === 'project' || endpoint === 'repository' ? 'REPO_READ' : 'PUBLIC_REPOS';
    if (!grant.scopes.some((s) => SCOPES.indexOf(s) >= SCOPES.indexOf(needed))) {
      return sendJson(res, 401, dcError(`This request needs the ${needed} permission.`, 'com.atlassian.bitbucket.AuthorisationException'));
    }
    res.setHeader('X-AUSERNAME', encodeURIComponent(grant.user.name));
    const parts = route.split('/').map((p) => decodeURIComponent(p));
    const avatarSize = url.searchParams.get('avatarSize');
    if (endpoint === 'user') {
      const user = users.find((u) => u.slug === parts[5]);
      if (!user) return sendJson(res, 404, dcError(`User ${parts[5] ?? ''} does not exist.`, 'com.atlassian.bitbucket.user.NoSuchUserException'));
      return sendJson(res, 200, userJson(user, base, avatarSize));
    }
    if (endpoint === 'users') {
      const filter = (url.searchParams.get('filter') ?? '').toLowerCase();
      const found = users.filter((u) => [u.name, u.displayName, u.emailAddress ?? ''].some((v) => v.toLowerCase().includes(filter)));
      const start = clampInt(url.searchParams.get('start'), 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = clampInt(url.searchParams.get('limit'), 25, 1, 1000);
      const values = found.slice(start, start + limit).map((u) => userJson(u, base, avatarSize));
      const isLastPage = start + limit >= found.length;
      return sendJson(res, 200, { size: values.length, limit, isLastPage, start, values, ...(isLastPage ? {} : { nextPageStart: start + limit }) });
    }
    const key = (parts[5] ?? '').toUpperCase();
    const repo = (parts[7] ?? '').toLowerCase();
    const reachable = grant.user.projects.includes(key) || (endpoint === 'repository' && grant.user.repositories.includes(`${key}/${repo}`));
    if (!reachable) return sendJson(res, 404, dcError(`Project ${key} does not exist.`, 'com.atlassian.bitbucket.project.NoSuchProjectException'));
    const project = { key, id: 1, name: key, public: false, type: 'NORMAL' };
    if (endpoint === 'project') return sendJson(res, 200, project);
    sendJson(res, 200, { slug: repo, id: 1, name: repo, scmId: 'git', state: 'AVAILABLE', forkable: true, public: false, project });
  }

  function userJson({ name, active, displayName, id, slug, emailAddress }: DataCenterEmulatorUser, base: string, avatarSize: string | null): Record<string, unknown> {
    const links = { self: [{ href: `${base}/users/${encodeURIComponent(slug)}` }] };
    // NOTE: the avatar is relative, and with the context path, as Data Center answers it.
    const avatarUrl = `${contextPath}/users/${encodeURIComponent(slug)}/avatar.png?s=${encodeURIComponent(avatarSize ?? '')}&v=1531929290000`;
    return { name, active, displayName, id, slug, type: 'NORMAL', links, ...(emailAddress === null ? {} : { emailAddress }), ...(avatarSize ? { avatarUrl } : {}) };
  }

  const core = await startEmulator<DataCenterEndpoint, DataCenterEmulatorUser>(options, users, {
    name: 'Bitbucket Data Center',
    client: ['application link', 'Redirect URL'],
    contextPath,
    authorizePath: '/rest/oauth2/latest/authorize',
    tokenPath: '/rest/oauth2/latest/token',
    routes: ROUTES,
    pages: (u) => [`/users/${encodeURIComponent(u.slug)}`, `/users/${encodeURIComponent(u.slug)}/avatar.png`],
    notFound: (res, url) => sendJson(res, 404, dcError(`${url.pathname} does not exist.`)),
    handle,
    error: (message) => dcError(message),
    findUser: (key) => users.find((u) => u.name === key || u.slug === key),
    consent: (params) => ({
      text: `<p>An application wants to access your account with the permission <b>${escapeHtml(params.get('scope') ?? 'PUBLIC_REPOS')}</b>.</p>`,
      accounts: users.map((u) => ({ value: u.name, id: u.name, label: `Allow as ${u.displayName}` })),
    }),
    scopes: scopesOf,
    check(params) {
      if (!params.get('redirect_uri')) return 'The redirect_uri is required.';
      const unknown = scopesOf(params).filter((s) => !SCOPES.includes(s));
      return unknown.length > 0 ? `Invalid scope: ${unknown.join(' ').slice(0, 100)} (known: ${SCOPES.join(', ')}).` : undefined;
    },
    clientAuth: 'body',
    notForm: [400, 'invalid_request', 'The token request must be a form POST.'],
    badClient: [401, 'invalid_client', 'Client authentication failed.'],
    defaults: { clientID: 'dc-client', clientSecret: 'dc-secret', codeLifetimeMs: 10_000, accessTokenLifetimeSec: 3600, refreshGraceMs: 0 },
  });
  const baseURL = core.url;
  return Object.assign(core, { baseURL, strategyOptions: { baseURL, clientID: core.clientID, clientSecret: core.clientSecret, allowInsecureHTTP: true as const } });
}

function resolveUser(input: DataCenterEmulatorUserInput, index: number): DataCenterEmulatorUser {
  const slug = input.slug ?? input.name.toLowerCase().replace(/[^a-z0-9._-]/g, '_');
  return {
    name: input.name,
    displayName: input.displayName ?? input.name,
    slug,
    id: input.id ?? 1000 + index,
    emailAddress: input.emailAddress === undefined ? `${slug}@example.com` : input.emailAddress,
    active: input.active ?? true,
    projects: (input.projects ?? []).map((p) => p.toUpperCase()),
    repositories: (input.repositories ?? []).map((r) => r.split('/')).map(([key = '', repo = '']) => `${key.toUpperCase()}/${repo.toLowerCase()}`),
  };
}
