import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clampInt, consentForms, escapeHtml, type EmulatorFault, Faults, isLoopback, LoopbackServer, readBody, readForm, redirect, seededRandom, sendAvatar, sendJson, sendPage } from './shared';

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
  /** Project keys the user can read. */
  projects?: string[];
  /** Repositories (`KEY/slug`) the user can read. */
  repositories?: string[];
}

export interface DataCenterEmulatorUser {
  name: string;
  displayName: string;
  slug: string;
  id: number;
  emailAddress: string | null;
  active: boolean;
  projects: string[];
  repositories: string[];
}

export interface DataCenterEmulatorOptions {
  /** The application link's Client ID. Default `dc-client`. */
  clientID?: string;
  /** The application link's Client secret. Default `dc-secret`. */
  clientSecret?: string;
  /** The link's Redirect URL: `redirect_uri` must start with it. Without it, any loopback `redirect_uri`. */
  callbackURL?: string | undefined;
  /** A context path the instance lives under, e.g. `/bitbucket`. Default none. */
  contextPath?: string;
  /** Default: three demo accounts, one whose slug is not its name. */
  users?: DataCenterEmulatorUserInput[];
  /** How long an authorization code lives. Default 10 s, as Data Center's. */
  codeLifetimeMs?: number;
  /** `expires_in` of access tokens. Default 3600 s. */
  accessTokenLifetimeSec?: number;
  /** Whether a refresh returns a new refresh token and ends the old one. Default `true`. */
  rotateRefreshTokens?: boolean;
  /** Where whoami names the user: `body` and header (the default), or `header` alone (observed on 8.19). */
  whoami?: 'body' | 'header';
  /** Milliseconds added before every answer, for all endpoints or per endpoint. */
  latency?: number | Partial<Record<DataCenterEndpoint, number>>;
  /** Per endpoint: a fault, or a list of faults of which each request draws one. */
  faults?: Partial<Record<DataCenterEndpoint, EmulatorFault | EmulatorFault[]>>;
  /** Seed of the random fault draws. Default: random, readable as `emulator.seed`. */
  seed?: number;
  /** The clock for code and token lifetimes. Default `Date.now`. */
  now?: () => number;
  /** Sign this user (name) in without the consent page. */
  autoApprove?: string;
  /** Default 0: any free port. It listens on 127.0.0.1 only. */
  port?: number;
}

/** What the Data Center strategy needs to talk to this emulator: spread it into its options. */
export interface DataCenterEmulatorStrategyOptions {
  baseURL: string;
  clientID: string;
  clientSecret: string;
  /** The emulator speaks plain HTTP on loopback. */
  allowInsecureHTTP: true;
}

export interface BitbucketDataCenterEmulator {
  /** `http://127.0.0.1:<port><contextPath>` */
  baseURL: string;
  authorizationURL: string;
  tokenURL: string;
  clientID: string;
  clientSecret: string;
  strategyOptions: DataCenterEmulatorStrategyOptions;
  users: DataCenterEmulatorUser[];
  stats: Record<DataCenterEndpoint, number>;
  seed: number;
  setFault(endpoint: DataCenterEndpoint, fault: EmulatorFault | EmulatorFault[] | undefined): void;
  /** The callback URL with a fresh code for `user` (a name), as the consent page would give. */
  authorize(user: string, params?: Record<string, string | undefined>): string;
  close(): Promise<void>;
}

const ENDPOINTS: DataCenterEndpoint[] = ['authorize', 'token', 'whoami', 'user', 'users', 'project', 'repository'];
const SCOPES = ['PUBLIC_REPOS', 'REPO_READ', 'REPO_WRITE', 'REPO_ADMIN', 'PROJECT_ADMIN', 'ADMIN_WRITE', 'SYSTEM_ADMIN'];

export const DATA_CENTER_DEMO_USERS: DataCenterEmulatorUserInput[] = [
  { name: 'jdoe', displayName: 'Jane Doe', id: 101, projects: ['ENG'], repositories: ['ENG/portal'] },
  // A username that is not URL-safe gets another slug: found through users?filter=.
  { name: 'j.smith@corp', displayName: 'John Smith', id: 102, slug: 'j.smith_corp', projects: ['OPS'] },
  { name: 'gone', displayName: 'Former Employee', id: 103, active: false },
];

interface Code {
  user: DataCenterEmulatorUser;
  redirectUri: string | undefined;
  scopes: string[];
  challenge: string | undefined;
  method: string | undefined;
  expiresAt: number;
}
interface Grant {
  user: DataCenterEmulatorUser;
  scopes: string[];
  expiresAt: number;
}

/**
 * Starts a local Bitbucket Data Center on 127.0.0.1: the OAuth 2.0 consent page and token
 * endpoint of an incoming application link, the whoami servlet, users by slug and by filter,
 * and project and repository access, behaving as Data Center does (body client credentials,
 * `scope` honoured and echoed, 10-second codes, PKCE checked, Data Center's error and page
 * shapes), with latency and faults to order.
 *
 * @example
 * ```ts
 * const dc = await startBitbucketDataCenterEmulator({ autoApprove: 'jdoe' });
 * passport.use(new BitbucketDataCenterStrategy({ ...dc.strategyOptions, callbackURL: '/auth/bitbucket-dc/callback' }, verify));
 * ```
 */
export async function startBitbucketDataCenterEmulator(options: DataCenterEmulatorOptions = {}): Promise<BitbucketDataCenterEmulator> {
  const clientID = options.clientID ?? 'dc-client';
  const clientSecret = options.clientSecret ?? 'dc-secret';
  const contextPath = (options.contextPath ?? '').replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
  const faults = new Faults<DataCenterEndpoint>(options.faults, seededRandom(seed), (status) => dcError(`Emulated error ${status}`));
  const latency = Object.fromEntries(ENDPOINTS.map((e) => [e, typeof options.latency === 'number' ? options.latency : (options.latency?.[e] ?? 0)])) as Record<DataCenterEndpoint, number>;
  const stats = Object.fromEntries(ENDPOINTS.map((e) => [e, 0])) as Record<DataCenterEndpoint, number>;
  const users = (options.users ?? DATA_CENTER_DEMO_USERS).map(resolveUser);
  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, Grant>();
  const refreshTokens = new Map<string, Grant>();
  let origin = '';

  const loopback = new LoopbackServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const route = url.pathname.startsWith(contextPath) ? url.pathname.slice(contextPath.length) : '';
    const endpoint = endpointOf(req.method ?? 'GET', route);
    // The user's page and avatar, which the user JSON links to (a browser opens them).
    const page = /^\/users\/([^/]+)(\/avatar\.png)?$/.exec(route);
    const owner = page ? users.find((u) => u.slug === decodeURIComponent(page[1] ?? '')) : undefined;
    if (!endpoint && owner && page?.[2]) return sendAvatar(res, owner.slug, owner.displayName);
    if (!endpoint && owner) return sendPage(res, 200, owner.displayName, 'This is the profile page of a local Bitbucket Data Center emulator account.');
    if (!endpoint) return sendJson(res, 404, dcError(`${url.pathname} does not exist.`));
    stats[endpoint] += 1;
    const run = (): void => {
      if (faults.apply(endpoint, res)) return;
      void handle(endpoint, req, res, url, route).catch(() => (res.headersSent ? res.destroy() : sendJson(res, 500, dcError('Something went wrong'))));
    };
    loopback.later(run, latency[endpoint]);
  });
  origin = await loopback.listen(options.port);
  const baseURL = `${origin}${contextPath}`;
  const findUser = (name: string): DataCenterEmulatorUser | undefined => users.find((u) => u.name === name || u.slug === name);

  async function handle(endpoint: DataCenterEndpoint, req: IncomingMessage, res: ServerResponse, url: URL, route: string): Promise<void> {
    switch (endpoint) {
      case 'authorize':
        return req.method === 'POST' ? decide(res, await readForm(req)) : consent(res, url.searchParams);
      case 'token':
        return token(req, res, new URLSearchParams(await readBody(req)));
      case 'whoami': {
        // NOTE: the servlet answers 200 even without a valid token, with nothing in it.
        const grant = grantOf(req);
        const name = grant ? grant.user.name : '';
        res.writeHead(200, { 'Content-Type': 'text/plain;charset=UTF-8', 'X-AUSERNAME': encodeURIComponent(name) });
        res.end(options.whoami === 'header' ? '' : name);
        return;
      }
      case 'user':
        return withGrant(req, res, 'PUBLIC_REPOS', () => {
          const slug = decodeURIComponent(route.split('/')[5] ?? '');
          const user = users.find((u) => u.slug === slug);
          if (!user) return sendJson(res, 404, dcError(`User ${slug} does not exist.`, 'com.atlassian.bitbucket.user.NoSuchUserException'));
          sendJson(res, 200, userJson(user, url.searchParams.get('avatarSize')));
        });
      case 'users':
        return withGrant(req, res, 'PUBLIC_REPOS', () => {
          const filter = (url.searchParams.get('filter') ?? '').toLowerCase();
          const found = users.filter((u) => [u.name, u.displayName, u.emailAddress ?? ''].some((v) => v.toLowerCase().includes(filter)));
          const start = clampInt(url.searchParams.get('start'), 0, 0, Number.MAX_SAFE_INTEGER);
          const limit = clampInt(url.searchParams.get('limit'), 25, 1, 1000);
          const values = found.slice(start, start + limit).map((u) => userJson(u, url.searchParams.get('avatarSize')));
          const isLastPage = start + limit >= found.length;
          sendJson(res, 200, { size: values.length, limit, isLastPage, start, values, ...(isLastPage ? {} : { nextPageStart: start + limit }) });
        });
      case 'project':
      case 'repository':
        return withGrant(req, res, 'REPO_READ', (grant) => {
          const parts = route.split('/').map((p) => decodeURIComponent(p));
          const key = (parts[5] ?? '').toUpperCase();
          const reachable =
            endpoint === 'project'
              ? grant.user.projects.includes(key)
              : grant.user.repositories.includes(`${key}/${(parts[7] ?? '').toLowerCase()}`) || grant.user.projects.includes(key);
          if (!reachable) return sendJson(res, 404, dcError(`Project ${key} does not exist.`, 'com.atlassian.bitbucket.project.NoSuchProjectException'));
          sendJson(res, 200, endpoint === 'project' ? { key, id: 1, name: key, public: false, type: 'NORMAL' } : { slug: parts[7], project: { key }, public: false });
        });
    }
  }

  function checkClient(params: URLSearchParams): string | undefined {
    if (params.get('client_id') !== clientID) return 'Invalid client_id: no application link has this client ID.';
    const redirectUri = params.get('redirect_uri');
    if (!redirectUri) return 'The redirect_uri is required.';
    if (options.callbackURL ? !redirectUri.startsWith(options.callbackURL) : !isLoopback(redirectUri)) {
      return options.callbackURL
        ? 'The redirect_uri does not match the Redirect URL of the application link.'
        : 'This emulator has no callbackURL, so it accepts only a loopback redirect_uri (127.0.0.1, localhost or [::1]).';
    }
    const scopes = (params.get('scope') ?? 'PUBLIC_REPOS').split(' ').filter(Boolean);
    if (!scopes.every((s) => SCOPES.includes(s))) return `Invalid scope: ${scopes.filter((s) => !SCOPES.includes(s)).join(' ').slice(0, 100)}`;
    return undefined;
  }

  function consent(res: ServerResponse, params: URLSearchParams): void {
    const problem = checkClient(params);
    if (problem) return sendPage(res, 400, 'Invalid OAuth request', problem);
    if (params.get('response_type') !== 'code') return redirect(res, params.get('redirect_uri') ?? '', { error: 'unsupported_response_type', state: params.get('state') });
    if (options.autoApprove !== undefined) return decide(res, new URLSearchParams({ ...Object.fromEntries(params), decision: 'grant', user: options.autoApprove }));
    const forms = consentForms(
      `${contextPath}/rest/oauth2/latest/authorize`,
      params,
      ['client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method'],
      users.map((u) => ({ value: u.name, id: u.name, label: `Allow as ${u.displayName}` })),
    );
    sendPage(
      res,
      200,
      'Authorize access',
      `<p>An application wants to access your account with the permission <b>${escapeHtml(params.get('scope') ?? 'PUBLIC_REPOS')}</b>.</p>` +
        `<p>Choose an account of this local Bitbucket Data Center emulator:</p>${forms.accounts}${forms.deny}`,
    );
  }

  function decide(res: ServerResponse, form: URLSearchParams): void {
    const problem = checkClient(form);
    if (problem) return sendPage(res, 400, 'Invalid OAuth request', problem);
    const target = form.get('redirect_uri') ?? '';
    if (form.get('decision') !== 'grant') return redirect(res, target, { error: 'access_denied', error_description: 'The user denied access.', state: form.get('state') });
    const user = findUser(form.get('user') ?? '');
    if (!user) return sendPage(res, 400, 'Unknown account', 'No such account in this emulator.');
    redirect(res, target, { code: issueCode(user, form), state: form.get('state') });
  }

  function issueCode(user: DataCenterEmulatorUser, params: URLSearchParams): string {
    const code = randomBytes(18).toString('base64url');
    codes.set(code, {
      user,
      redirectUri: params.get('redirect_uri') ?? undefined,
      scopes: (params.get('scope') ?? 'PUBLIC_REPOS').split(' ').filter(Boolean),
      challenge: params.get('code_challenge') ?? undefined,
      method: params.get('code_challenge_method') ?? undefined,
      expiresAt: now() + (options.codeLifetimeMs ?? 10_000),
    });
    return code;
  }

  function token(req: IncomingMessage, res: ServerResponse, form: URLSearchParams): void {
    const fail = (status: number, error: string, description: string): void => sendJson(res, status, { error, error_description: description });
    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return fail(400, 'invalid_request', 'The token request must be a form POST.');
    }
    // NOTE: Data Center reads the client's credentials from the form body.
    if (form.get('client_id') !== clientID || form.get('client_secret') !== clientSecret) return fail(401, 'invalid_client', 'Client authentication failed.');
    if (form.get('grant_type') === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (!code || code.expiresAt < now()) return fail(400, 'invalid_grant', 'The authorization code is invalid or expired.');
      if (code.redirectUri !== form.get('redirect_uri')) return fail(400, 'invalid_grant', 'The redirect_uri does not match the authorization request.');
      if (code.challenge !== undefined) {
        const verifier = form.get('code_verifier') ?? '';
        const expected = code.method === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
        if (expected !== code.challenge) return fail(400, 'invalid_grant', 'The code_verifier does not match the code_challenge.');
      }
      return sendTokens(res, { user: code.user, scopes: code.scopes, expiresAt: 0 }, undefined);
    }
    if (form.get('grant_type') === 'refresh_token') {
      const old = form.get('refresh_token') ?? '';
      const grant = refreshTokens.get(old);
      if (!grant) return fail(400, 'invalid_grant', 'The refresh token is invalid.');
      return sendTokens(res, grant, options.rotateRefreshTokens === false ? old : undefined, old);
    }
    return fail(400, 'unsupported_grant_type', 'The grant type is not supported.');
  }

  function sendTokens(res: ServerResponse, grant: Grant, keepRefresh: string | undefined, used?: string): void {
    const accessToken = randomBytes(32).toString('base64url');
    const lifetime = options.accessTokenLifetimeSec ?? 3600;
    accessTokens.set(accessToken, { ...grant, expiresAt: now() + lifetime * 1000 });
    let refreshToken = keepRefresh;
    if (refreshToken === undefined) {
      if (used) refreshTokens.delete(used);
      refreshToken = randomBytes(32).toString('base64url');
      refreshTokens.set(refreshToken, grant);
    }
    sendJson(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: lifetime, refresh_token: refreshToken, scope: grant.scopes.join(' ') });
  }

  function grantOf(req: IncomingMessage): Grant | undefined {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const grant = match ? accessTokens.get(match[1] ?? '') : undefined;
    return grant && grant.expiresAt >= now() ? grant : undefined;
  }

  function withGrant(req: IncomingMessage, res: ServerResponse, scope: string, then: (grant: Grant) => void): void {
    const grant = grantOf(req);
    if (!grant) return sendJson(res, 401, dcError('Authentication failed. Please check your credentials and try again.', 'com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException'));
    const rank = (s: string): number => SCOPES.indexOf(s);
    if (!grant.scopes.some((s) => rank(s) >= rank(scope))) {
      return sendJson(res, 401, dcError(`This request needs the ${scope} permission.`, 'com.atlassian.bitbucket.AuthorisationException'));
    }
    res.setHeader('X-AUSERNAME', encodeURIComponent(grant.user.name));
    then(grant);
  }

  function userJson(user: DataCenterEmulatorUser, avatarSize: string | null): Record<string, unknown> {
    const json: Record<string, unknown> = {
      name: user.name,
      active: user.active,
      displayName: user.displayName,
      id: user.id,
      slug: user.slug,
      type: 'NORMAL',
      links: { self: [{ href: `${baseURL}/users/${encodeURIComponent(user.slug)}` }] },
    };
    if (user.emailAddress !== null) json['emailAddress'] = user.emailAddress;
    // NOTE: relative, and with the context path, as Data Center answers it.
    if (avatarSize) json['avatarUrl'] = `${contextPath}/users/${encodeURIComponent(user.slug)}/avatar.png?s=${encodeURIComponent(avatarSize)}&v=1531929290000`;
    return json;
  }

  const strategyOptions: DataCenterEmulatorStrategyOptions = { baseURL, clientID, clientSecret, allowInsecureHTTP: true };
  return {
    baseURL,
    authorizationURL: `${baseURL}/rest/oauth2/latest/authorize`,
    tokenURL: `${baseURL}/rest/oauth2/latest/token`,
    clientID,
    clientSecret,
    strategyOptions,
    users,
    stats,
    seed,
    setFault: (endpoint, fault) => faults.set(endpoint, fault),
    authorize(name, params = {}) {
      const user = findUser(name);
      if (!user) throw new Error(`No Data Center emulator user ${name}`);
      const search = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'));
      const target = new URL(params['redirect_uri'] ?? options.callbackURL ?? origin);
      target.searchParams.set('code', issueCode(user, search));
      if (params['state'] !== undefined) target.searchParams.set('state', params['state']);
      return target.href;
    },
    close: () => {
      faults.clear();
      return loopback.close();
    },
  };
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
    repositories: (input.repositories ?? []).map((r) => {
      const [key = '', repo = ''] = r.split('/');
      return `${key.toUpperCase()}/${repo.toLowerCase()}`;
    }),
  };
}

function endpointOf(method: string, route: string): DataCenterEndpoint | undefined {
  if (route === '/rest/oauth2/latest/authorize' && (method === 'GET' || method === 'POST')) return 'authorize';
  if (route === '/rest/oauth2/latest/token') return 'token';
  if (method !== 'GET') return undefined;
  if (route === '/plugins/servlet/applinks/whoami') return 'whoami';
  if (route === '/rest/api/latest/users') return 'users';
  if (/^\/rest\/api\/latest\/users\/[^/]+$/.test(route)) return 'user';
  if (/^\/rest\/api\/latest\/projects\/[^/]+$/.test(route)) return 'project';
  if (/^\/rest\/api\/latest\/projects\/[^/]+\/repos\/[^/]+$/.test(route)) return 'repository';
  return undefined;
}

/** Data Center's REST error body. */
function dcError(message: string, exceptionName = 'com.atlassian.bitbucket.ServiceException'): Record<string, unknown> {
  return { errors: [{ context: null, message, exceptionName }] };
}
