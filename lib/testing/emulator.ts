import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StrategyOptionsBase } from '../cloud/types';
import { clampInt, consentForms, type EmulatorFault, Faults, isLoopback, LoopbackServer, readBody, readForm, redirect, seededRandom, sendAvatar, sendJson, sendPage } from './shared';

/** The strategy options that point it at an emulator: named as the strategy names them. */
export type EmulatorStrategyOptions = {
  [K in 'clientID' | 'clientSecret' | 'authorizationURL' | 'tokenURL' | 'userProfileURL' | 'userEmailsURL' | 'userWorkspacesURL']-?: NonNullable<
    StrategyOptionsBase[K]
  >;
};

/** The emulator's endpoints, as named in `latency`, `faults` and `stats`. */
export type EmulatorEndpoint = 'authorize' | 'token' | 'user' | 'emails' | 'workspaces' | 'workspacePermission';
export type WorkspacePermission = 'owner' | 'create-project' | 'member' | 'collaborator';

export interface EmulatorEmail {
  email: string;
  /** Default: the first address is primary. */
  primary?: boolean;
  /** Default `true`. */
  confirmed?: boolean;
}

export interface EmulatorWorkspace {
  slug: string;
  name?: string;
  uuid?: string;
  /** The user's highest role there. Default `member`. */
  permission?: WorkspacePermission;
}

/** A Bitbucket account the emulator knows. Everything but `displayName` has a default. */
export interface EmulatorUserInput {
  displayName: string;
  uuid?: string;
  accountId?: string;
  /** `null` leaves `username` out of `/2.0/user`, as for accounts Bitbucket no longer reports it for. */
  username?: string | null;
  nickname?: string;
  emails?: EmulatorEmail[];
  workspaces?: EmulatorWorkspace[];
}

/** A user as the emulator holds it. Changing it changes what the API answers from then on. */
export interface EmulatorUser {
  uuid: string;
  accountId: string;
  username: string | null;
  nickname: string;
  displayName: string;
  emails: Array<Required<EmulatorEmail>>;
  workspaces: Array<Required<EmulatorWorkspace>>;
}

export type { EmulatorFault } from './shared';

export interface EmulatorOptions {
  /** The OAuth consumer's Key. Default `emulator-key`. */
  clientID?: string;
  /** The OAuth consumer's Secret. Default `emulator-secret`. */
  clientSecret?: string;
  /**
   * The consumer's Callback URL: `redirect_uri` must start with it. Without it, any
   * `redirect_uri` on a loopback host (127.0.0.1, localhost, [::1]) is accepted.
   */
  callbackURL?: string | undefined;
  /** The accounts. Default: three demo accounts. */
  users?: EmulatorUserInput[];
  /** The permissions ticked on the consumer. Default `['account', 'email']`. */
  scopes?: string[];
  /** Token responses name the scopes `scope` (2026 on, the default) or `scopes` (before). */
  tokenFormat?: 'scope' | 'scopes';
  /** Milliseconds added before every answer, for all endpoints or per endpoint. */
  latency?: number | Partial<Record<EmulatorEndpoint, number>>;
  /** Per endpoint: a fault, or a list of faults of which each request draws one at random. */
  faults?: Partial<Record<EmulatorEndpoint, EmulatorFault | EmulatorFault[]>>;
  /** How long an authorization code lives. Default 60 s. */
  codeLifetimeMs?: number;
  /** `expires_in` of access tokens. Default 7200 s. */
  accessTokenLifetimeSec?: number;
  /** How long a refresh token keeps working after it was used (it rotates). Default 120 s. */
  refreshGraceMs?: number;
  /** Sign this user (uuid or username) in without showing the consent page. */
  autoApprove?: string;
  /** Default 0: any free port. The emulator listens on 127.0.0.1 only. */
  port?: number;
  /** How long it keeps an idle keep-alive connection open, in ms. Default 5000 (Node's). */
  keepAliveTimeout?: number;
  /**
   * The clock for code, token and refresh lifetimes, in milliseconds. Default `Date.now`:
   * tests pass their own to make time pass without waiting.
   */
  now?: () => number;
  /**
   * Seed for the random draws of `faults` (`probability` and lists): the same seed gives the
   * same faults in the same order. Default: a random seed, readable as `emulator.seed`.
   */
  seed?: number;
}

export interface BitbucketEmulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  authorizationURL: string;
  tokenURL: string;
  userProfileURL: string;
  userEmailsURL: string;
  userWorkspacesURL: string;
  clientID: string;
  clientSecret: string;
  /** Everything the strategy needs to talk to this emulator: spread it into its options. */
  strategyOptions: EmulatorStrategyOptions;
  users: EmulatorUser[];
  /** Requests received per endpoint. */
  stats: Record<EmulatorEndpoint, number>;
  /** The seed of the fault draws: pass it back as `seed` to replay a run. */
  seed: number;
  /** Sets (or with `undefined` clears) the fault of an endpoint: one, or a list to draw from. */
  setFault(endpoint: EmulatorEndpoint, fault: EmulatorFault | EmulatorFault[] | undefined): void;
  /** Sets the added latency of every endpoint, or of one. */
  setLatency(ms: number, endpoint?: EmulatorEndpoint): void;
  /**
   * Signs a user in without a browser: the code the consent page would have produced.
   * Returns the callback URL with `code` (and `state` when given).
   */
  /** Connections open on the emulator's side right now (in use or idle keep-alive). */
  connections(): number;
  authorize(user: string, params?: { redirect_uri?: string; state?: string; code_challenge?: string; code_challenge_method?: string }): string;
  close(): Promise<void>;
}

const ENDPOINTS: EmulatorEndpoint[] = ['authorize', 'token', 'user', 'emails', 'workspaces', 'workspacePermission'];

/** Endpoints Atlassian removed with CHANGE-2770 (14 April 2026): they answer 410 with its notice. */
const REMOVED = new Set(['/2.0/user/permissions/workspaces', '/2.0/workspaces', '/2.0/repositories', '/2.0/user/permissions/repositories']);
const GONE = {
  type: 'error',
  error: {
    message: 'CHANGE-2770 - Functionality has been deprecated',
    detail: 'Please read the changelog entry for more details.',
    data: { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770' },
  },
};

interface Code {
  user: EmulatorUser;
  redirectUri: string | undefined;
  challenge: string | undefined;
  method: string | undefined;
  expiresAt: number;
  used: boolean;
}
interface Grant {
  user: EmulatorUser;
  scopes: string[];
  expiresAt: number;
}

export const DEMO_USERS: EmulatorUserInput[] = [
  {
    displayName: 'Ada Lovelace',
    username: 'ada-lovelace',
    uuid: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}',
    accountId: '5c65cab48bcc9e016aeece31',
    emails: [
      { email: 'ada@example.com', primary: true },
      { email: 'ada.lovelace@example.org' },
      { email: 'ada@unconfirmed.example.net', confirmed: false },
    ],
    workspaces: [
      { slug: 'analytical-engines', name: 'Analytical Engines', permission: 'owner' },
      { slug: 'difference-engines', name: 'Difference Engines', permission: 'member' },
    ],
  },
  {
    displayName: 'Grace Hopper',
    username: null,
    uuid: '{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}',
    accountId: '712020:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
    emails: [{ email: 'grace@example.com', primary: true }],
    workspaces: [{ slug: 'analytical-engines', name: 'Analytical Engines', permission: 'member' }],
  },
  {
    displayName: 'Edsger Dijkstra',
    username: 'ewd',
    emails: [
      { email: 'edsger@new.example.com', primary: true, confirmed: false },
      { email: 'edsger@example.com' },
    ],
  },
];

/**
 * Starts a local Bitbucket Cloud on 127.0.0.1: the OAuth consent page and token endpoint,
 * `/2.0/user`, `/2.0/user/emails`, `/2.0/user/workspaces` and its `/{slug}/permission`, behaving as
 * Bitbucket does (HTTP Basic or body client credentials, single-use expiring codes, rotating
 * refresh tokens, Bearer-only API, Bitbucket's error shapes), with latency and faults to
 * order. For tests, demos and benchmarks: it uses no network beyond loopback.
 *
 * @example
 * ```ts
 * const bitbucket = await startBitbucketEmulator({ callbackURL: 'http://localhost:3000/auth/bitbucket/callback' });
 * passport.use(new Strategy({ ...bitbucket.strategyOptions, callbackURL: 'http://localhost:3000/auth/bitbucket/callback' }, verify));
 * // …
 * await bitbucket.close();
 * ```
 */
export async function startBitbucketEmulator(options: EmulatorOptions = {}): Promise<BitbucketEmulator> {
  const clientID = options.clientID ?? 'emulator-key';
  const clientSecret = options.clientSecret ?? 'emulator-secret';
  const granted = [...(options.scopes ?? ['account', 'email'])];
  const tokenFormat = options.tokenFormat ?? 'scope';
  const codeLifetime = options.codeLifetimeMs ?? 60_000;
  const accessLifetime = options.accessTokenLifetimeSec ?? 7200;
  const refreshGrace = options.refreshGraceMs ?? 120_000;
  const now = options.now ?? Date.now;
  const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
  const random = seededRandom(seed);
  const latency = Object.fromEntries(ENDPOINTS.map((e) => [e, 0])) as Record<EmulatorEndpoint, number>;
  if (typeof options.latency === 'number') for (const e of ENDPOINTS) latency[e] = options.latency;
  else Object.assign(latency, options.latency);
  const faults = new Faults<EmulatorEndpoint>(options.faults, random, (status) => apiError(`Emulated error ${status}`));
  const stats = Object.fromEntries(ENDPOINTS.map((e) => [e, 0])) as Record<EmulatorEndpoint, number>;

  const codes = new Map<string, Code>();
  const accessTokens = new Map<string, Grant>();
  const refreshTokens = new Map<string, { grant: Grant; deadAt: number | undefined }>();
  let base = '';

  const users = (options.users ?? DEMO_USERS).map(resolveUser);
  const findUser = (key: string): EmulatorUser | undefined =>
    users.find((u) => u.uuid === key || u.username === key || u.accountId === key);

  const loopback = new LoopbackServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const endpoint = endpointOf(req.method ?? 'GET', url.pathname);
    if (!endpoint) {
      if (REMOVED.has(url.pathname)) return sendJson(res, 410, GONE);
      if (url.pathname.startsWith('/avatars/')) {
        const accountId = decodeURIComponent(url.pathname.slice('/avatars/'.length).replace(/\.svg$/, ''));
        return sendAvatar(res, accountId, users.find((u) => u.accountId === accountId)?.displayName);
      }
      const owner = users.find((u) => url.pathname === `/${encodeURIComponent(u.uuid)}/`);
      if (owner) return sendPage(res, 200, owner.displayName, 'This is the profile page of a local Bitbucket emulator account.');
      return sendJson(res, 404, apiError(`Resource not found`));
    }
    stats[endpoint] += 1;
    const delay = latency[endpoint];
    const run = (): void => {
      if (faults.apply(endpoint, res)) return;
      void handle(endpoint, req, res, url).catch(() => {
        if (!res.headersSent) sendJson(res, 500, apiError('Something went wrong'));
        else res.destroy();
      });
    };
    loopback.later(run, delay);
  });
  if (options.keepAliveTimeout !== undefined) loopback.server.keepAliveTimeout = options.keepAliveTimeout;
  base = await loopback.listen(options.port);

  async function handle(endpoint: EmulatorEndpoint, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    switch (endpoint) {
      case 'authorize':
        return req.method === 'POST' ? decide(res, await readForm(req)) : consent(res, url.searchParams);
      case 'token':
        return token(req, res, await readBody(req));
      case 'user':
        return withGrant(req, res, 'account', (grant) => sendJson(res, 200, userJson(grant.user)));
      case 'emails':
        return withGrant(req, res, 'email', (grant) => {
          const values = grant.user.emails.map((e) => ({
            is_primary: e.primary,
            is_confirmed: e.confirmed,
            type: 'email',
            email: e.email,
            links: { self: { href: `${base}/2.0/user/emails/${encodeURIComponent(e.email)}` } },
          }));
          sendJson(res, 200, paginate(values, url));
        });
      case 'workspaces':
        return withGrant(req, res, 'account', (grant) => {
          let access = grant.user.workspaces.map(accessJson);
          const q = url.searchParams.get('q');
          if (q) {
            const filter = parseQuery(q);
            if (!filter) return sendJson(res, 400, apiError(`Invalid query: ${q.slice(0, 100)}`));
            access = access.filter((a) => filter(a.workspace.slug));
          }
          const administrator = url.searchParams.get('administrator');
          if (administrator === 'true' || administrator === 'false') {
            access = access.filter((a) => a.administrator === (administrator === 'true'));
          }
          const sort = url.searchParams.get('sort');
          if (sort === 'slug' || sort === '-slug') {
            access.sort((a, b) => a.workspace.slug.localeCompare(b.workspace.slug) * (sort.startsWith('-') ? -1 : 1));
          }
          sendJson(res, 200, paginate(access, url));
        });
      case 'workspacePermission':
        return withGrant(req, res, 'account', (grant) => {
          // The slug, or the uuid in braces (URL-encoded or not).
          const key = decodeURIComponent(url.pathname.split('/')[4] ?? '');
          const workspace = grant.user.workspaces.find((w) => w.slug.toLowerCase() === key.toLowerCase() || w.uuid === key);
          if (!workspace) return sendJson(res, 403, apiError('You do not have access to this workspace.'));
          sendJson(res, 200, membershipJson(grant.user, workspace, base));
        });
    }
  }

  /** The consent screen, or Bitbucket's error page when the request cannot be trusted. */
  function consent(res: ServerResponse, params: URLSearchParams): void {
    const problem = checkClient(params);
    if (problem) return sendPage(res, 400, 'Invalid OAuth request', problem);
    const target = redirectTarget(params);
    if (params.get('response_type') !== 'code') {
      return redirect(res, target, { error: 'unsupported_response_type', state: params.get('state') });
    }
    if (options.autoApprove !== undefined) {
      return decide(res, new URLSearchParams({ ...Object.fromEntries(params), decision: 'grant', user: options.autoApprove }));
    }
    const forms = consentForms(
      '/site/oauth2/authorize',
      params,
      ['client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method'],
      users.map((u) => ({
        value: u.uuid,
        id: u.username ?? u.uuid,
        label: `Grant access as ${u.displayName}`,
        note: u.emails.find((e) => e.primary)?.email ?? '',
      })),
    );
    sendPage(
      res,
      200,
      'Authorize access',
      `<p>An application wants to <b>read your account information</b>${granted.includes('email') ? ' and <b>read your email addresses</b>' : ''}.</p>` +
        `<p>Choose an account of this local Bitbucket emulator:</p>${forms.accounts}${forms.deny}`,
    );
  }

  function decide(res: ServerResponse, form: URLSearchParams): void {
    const problem = checkClient(form);
    if (problem) return sendPage(res, 400, 'Invalid OAuth request', problem);
    const target = redirectTarget(form);
    const state = form.get('state');
    if (form.get('decision') !== 'grant') {
      return redirect(res, target, { error: 'access_denied', error_description: 'The user denied access.', state });
    }
    const user = findUser(form.get('user') ?? '');
    if (!user) return sendPage(res, 400, 'Unknown account', 'No such account in this emulator.');
    redirect(res, target, { code: issueCode(user, form), state });
  }

  function issueCode(user: EmulatorUser, params: URLSearchParams): string {
    const code = randomBytes(18).toString('base64url');
    codes.set(code, {
      user,
      redirectUri: params.get('redirect_uri') ?? undefined,
      challenge: params.get('code_challenge') ?? undefined,
      method: params.get('code_challenge_method') ?? undefined,
      expiresAt: now() + codeLifetime,
      used: false,
    });
    return code;
  }

  /** Why an authorize request gets Bitbucket's error page instead of a redirect, if it does. */
  function checkClient(params: URLSearchParams): string | undefined {
    if (params.get('client_id') !== clientID) return 'Invalid client_id: no OAuth consumer has this key.';
    const redirectUri = params.get('redirect_uri');
    if (redirectUri !== null && options.callbackURL && !redirectUri.startsWith(options.callbackURL)) {
      return 'The redirect_uri does not match the Callback URL registered for this OAuth consumer.';
    }
    // Without a registered Callback URL, any app on this machine may be the consumer.
    if (redirectUri !== null && !options.callbackURL && !isLoopback(redirectUri)) {
      return 'This emulator has no callbackURL, so it accepts only a loopback redirect_uri (127.0.0.1, localhost or [::1]).';
    }
    if (redirectUri === null && !options.callbackURL) return 'No callback uri defined for the OAuth client.';
    return undefined;
  }

  function redirectTarget(params: URLSearchParams): string {
    return params.get('redirect_uri') ?? options.callbackURL ?? '';
  }

  function token(req: IncomingMessage, res: ServerResponse, body: string): void {
    const tokenError = (error: string, description: string): void =>
      sendJson(res, 400, { error_description: description, error });
    const type = String(req.headers['content-type'] ?? '');
    if (req.method !== 'POST' || !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return tokenError('unsupported_grant_type', 'Unsupported grant type: None');
    }
    const form = new URLSearchParams(body);
    const credentials = basicCredentials(req.headers.authorization) ?? {
      id: form.get('client_id'),
      secret: form.get('client_secret'),
    };
    if (credentials.id !== clientID || credentials.secret !== clientSecret) {
      return tokenError('unauthorized_client', 'Invalid OAuth client credentials');
    }
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      if (!code || code.used || code.expiresAt < now()) {
        if (code) code.used = true;
        return tokenError('invalid_grant', 'The authorization code is invalid or has expired.');
      }
      code.used = true;
      if (code.redirectUri !== undefined && form.get('redirect_uri') !== code.redirectUri) {
        return tokenError('invalid_grant', 'The redirect_uri does not match the authorization request.');
      }
      if (code.challenge !== undefined && !pkceMatches(code, form.get('code_verifier'))) {
        return tokenError('invalid_grant', 'The code_verifier does not match the code_challenge.');
      }
      return sendTokens(res, { user: code.user, scopes: granted, expiresAt: 0 }, 'authorization_code');
    }
    if (grantType === 'refresh_token') {
      const entry = refreshTokens.get(form.get('refresh_token') ?? '');
      const at = now();
      if (!entry || (entry.deadAt !== undefined && entry.deadAt <= at)) {
        return tokenError('invalid_grant', 'Invalid refresh_token');
      }
      if (entry.deadAt === undefined) entry.deadAt = at + refreshGrace;
      // NOTE: Bitbucket narrows a refreshed token to a scope sent with the refresh (observed).
      const asked = form.get('scope')?.split(/[\s,]+/).filter(Boolean);
      const scopes = asked ? entry.grant.scopes.filter((s) => asked.includes(s)) : entry.grant.scopes;
      return sendTokens(res, { user: entry.grant.user, scopes, expiresAt: 0 }, 'refresh_token');
    }
    return tokenError('unsupported_grant_type', `Unsupported grant type: ${grantType ?? 'None'}`);
  }

  function sendTokens(res: ServerResponse, grant: Grant, state: string): void {
    const accessToken = randomBytes(48).toString('base64url');
    const refreshToken = randomBytes(24).toString('base64url');
    accessTokens.set(accessToken, { ...grant, expiresAt: now() + accessLifetime * 1000 });
    refreshTokens.set(refreshToken, { grant, deadAt: undefined });
    const scope = grant.scopes.join(' ');
    sendJson(res, 200, {
      [tokenFormat]: scope,
      access_token: accessToken,
      expires_in: accessLifetime,
      token_type: 'bearer',
      state,
      refresh_token: refreshToken,
    });
  }

  function withGrant(req: IncomingMessage, res: ServerResponse, scope: string, then: (grant: Grant) => void): void {
    // NOTE: since May 2026 Bitbucket accepts the token only in the Authorization header.
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const grant = match ? accessTokens.get(match[1] ?? '') : undefined;
    if (!grant || grant.expiresAt < now()) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Bitbucket.org HTTP"');
      return sendJson(res, 401, apiError(grant ? 'Access token expired.' : 'Unauthorized'));
    }
    if (!grant.scopes.includes(scope)) {
      return sendJson(res, 403, {
        type: 'error',
        error: {
          message: 'Your credentials lack one or more required privilege scopes.',
          detail: { required: [scope], granted: grant.scopes },
        },
      });
    }
    res.setHeader('X-OAuth-Scopes', grant.scopes.join(', '));
    res.setHeader('X-Accepted-OAuth-Scopes', scope);
    then(grant);
  }

  function paginate<T>(values: T[], url: URL): Record<string, unknown> {
    const pagelen = clampInt(url.searchParams.get('pagelen'), 10, 1, 100);
    const page = clampInt(url.searchParams.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
    const start = (page - 1) * pagelen;
    const result: Record<string, unknown> = { pagelen, values: values.slice(start, start + pagelen), page, size: values.length };
    if (start + pagelen < values.length) {
      const next = new URL(url.href);
      next.searchParams.set('pagelen', String(pagelen));
      next.searchParams.set('page', String(page + 1));
      result['next'] = next.href;
    }
    return result;
  }

  function userJson(user: EmulatorUser): Record<string, unknown> {
    const id = encodeURIComponent(user.uuid);
    const json: Record<string, unknown> = {
      display_name: user.displayName,
      has_2fa_enabled: null,
      links: {
        hooks: { href: `${base}/2.0/users/${id}/hooks` },
        self: { href: `${base}/2.0/users/${id}` },
        repositories: { href: `${base}/2.0/repositories/${id}` },
        html: { href: `${base}/${id}/` },
        avatar: { href: `${base}/avatars/${encodeURIComponent(user.accountId)}.svg` },
        snippets: { href: `${base}/2.0/snippets/${id}` },
      },
      nickname: user.nickname,
      account_id: user.accountId,
      created_on: '2019-02-19T10:36:46.361566-08:00',
      is_staff: false,
      account_status: 'active',
      type: 'user',
      uuid: user.uuid,
    };
    if (user.username !== null) json['username'] = user.username;
    return json;
  }

  const strategyOptions: EmulatorStrategyOptions = {
    clientID,
    clientSecret,
    authorizationURL: `${base}/site/oauth2/authorize`,
    tokenURL: `${base}/site/oauth2/access_token`,
    userProfileURL: `${base}/2.0/user`,
    userEmailsURL: `${base}/2.0/user/emails`,
    userWorkspacesURL: `${base}/2.0/user/workspaces`,
  };
  return {
    ...strategyOptions,
    url: base,
    strategyOptions,
    users,
    stats,
    seed,
    setFault: (endpoint, fault) => faults.set(endpoint, fault),
    setLatency(ms, endpoint) {
      for (const e of endpoint ? [endpoint] : ENDPOINTS) latency[e] = ms;
    },
    connections: () => loopback.connections(),
    authorize(key, params = {}) {
      const user = findUser(key);
      if (!user) throw new Error(`No emulator user ${key}`);
      const search = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'));
      const target = new URL(params.redirect_uri ?? options.callbackURL ?? base);
      target.searchParams.set('code', issueCode(user, search));
      if (params.state !== undefined) target.searchParams.set('state', params.state);
      return target.href;
    },
    close: () => {
      faults.clear();
      return loopback.close();
    },
  };
}


function resolveUser(input: EmulatorUserInput, index: number): EmulatorUser {
  const slug = input.displayName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || `user-${index}`;
  const emails = (input.emails ?? [{ email: `${slug}@example.com` }]).map((e, i, all) => ({
    email: e.email,
    primary: e.primary ?? (i === 0 && !all.some((x) => x.primary)),
    confirmed: e.confirmed ?? true,
  }));
  return {
    uuid: input.uuid ?? `{${randomUUID()}}`,
    accountId: input.accountId ?? randomBytes(12).toString('hex'),
    username: input.username === undefined ? slug : input.username,
    nickname: input.nickname ?? input.displayName,
    displayName: input.displayName,
    emails,
    workspaces: (input.workspaces ?? []).map((w) => ({
      slug: w.slug,
      name: w.name ?? w.slug,
      uuid: w.uuid ?? `{${randomUUID()}}`,
      permission: w.permission ?? 'member',
    })),
  };
}

/** `GET /2.0/user/workspaces/{workspace}/permission`, as `fixtures/workspace-permission.json`. */
function membershipJson(user: EmulatorUser, w: Required<EmulatorWorkspace>, base: string) {
  return {
    type: 'workspace_membership',
    permission: w.permission,
    user: { type: 'user', uuid: user.uuid, account_id: user.accountId, nickname: user.nickname, display_name: user.displayName },
    workspace: {
      type: 'workspace',
      uuid: w.uuid,
      slug: w.slug,
      name: w.name,
      links: { self: { href: `${base}/2.0/workspaces/${w.slug}` } },
    },
    links: { self: { href: `${base}/2.0/user/workspaces/${w.slug}/permission` } },
  };
}

/** An entry of `GET /2.0/user/workspaces`, as `fixtures/user-workspaces.json`: no name, no role. */
function accessJson(w: Required<EmulatorWorkspace>) {
  return {
    type: 'workspace_access',
    administrator: w.permission === 'owner',
    workspace: { type: 'workspace_base', uuid: w.uuid, slug: w.slug },
  };
}

/** Bitbucket's `q` language, as far as the listing needs it: `slug = "value"` joined by OR. */
function parseQuery(q: string): ((slug: string) => boolean) | undefined {
  const wanted: string[] = [];
  for (const term of q.split(/\s+OR\s+/i)) {
    const match = /^\(?\s*slug\s*=\s*"([^"]*)"\s*\)?$/.exec(term.trim());
    if (!match) return undefined;
    wanted.push(match[1] ?? '');
  }
  return (slug) => wanted.includes(slug);
}

function endpointOf(method: string, path: string): EmulatorEndpoint | undefined {
  if (path === '/site/oauth2/authorize' && (method === 'GET' || method === 'POST')) return 'authorize';
  if (path === '/site/oauth2/access_token') return 'token';
  if (method !== 'GET') return undefined;
  if (path === '/2.0/user') return 'user';
  if (path === '/2.0/user/emails') return 'emails';
  if (path === '/2.0/user/workspaces') return 'workspaces';
  if (/^\/2\.0\/user\/workspaces\/[^/]+\/permission$/.test(path)) return 'workspacePermission';
  return undefined;
}


function pkceMatches(code: Code, verifier: string | null): boolean {
  if (verifier === null) return false;
  const expected = code.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return expected === code.challenge;
}

function basicCredentials(header: string | undefined): { id: string | null; secret: string | null } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { id: null, secret: null };
  const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return { id: null, secret: null };
  }
}




function apiError(message: string): Record<string, unknown> {
  return { type: 'error', error: { message } };
}




