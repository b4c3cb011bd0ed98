import { randomBytes, randomUUID } from 'node:crypto';
import type { StrategyOptionsBase } from '../cloud/options';
import { clampInt, type Call, type CommonEmulatorOptions, type EmulatorSurface, sendJson, startEmulator } from './core';

/** The strategy options that point it at an emulator: named as the strategy names them. */
export type EmulatorStrategyOptions = {
  [K in 'clientID' | 'clientSecret' | 'authorizationURL' | 'tokenURL' | 'userProfileURL' | 'userEmailsURL' | 'userWorkspacesURL']-?: NonNullable<StrategyOptionsBase[K]>;
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
export type EmulatorUser = Required<Omit<EmulatorUserInput, 'emails' | 'workspaces'>> & {
  emails: Array<Required<EmulatorEmail>>;
  workspaces: Array<Required<EmulatorWorkspace>>;
};

/** `clientID` and `clientSecret` are the OAuth consumer's Key and Secret: `emulator-key`, `emulator-secret`. */
export interface EmulatorOptions extends CommonEmulatorOptions<EmulatorEndpoint> {
  /** The accounts. Default: three demo accounts. */
  users?: EmulatorUserInput[];
  /** The permissions ticked on the consumer. Default `['account', 'email']`. */
  scopes?: string[];
  /** Token responses name the scopes `scope` (2026 on, the default) or `scopes` (before). */
  tokenFormat?: 'scope' | 'scopes';
}

export interface BitbucketEmulator extends EmulatorSurface<EmulatorEndpoint, EmulatorUser>, EmulatorStrategyOptions {
  /** Everything the strategy needs to talk to this emulator: spread it into its options. */
  strategyOptions: EmulatorStrategyOptions;
}

const ROUTES: Array<[RegExp, EmulatorEndpoint]> = [
  [/^\/2\.0\/user$/, 'user'],
  [/^\/2\.0\/user\/emails$/, 'emails'],
  [/^\/2\.0\/user\/workspaces$/, 'workspaces'],
  [/^\/2\.0\/user\/workspaces\/[^/]+\/permission$/, 'workspacePermission'],
];
/** The OAuth scopes of Atlassian's spec (`securitySchemes.oauth2`): Bitbucket redirects with `invalid_scope` for any other name. */
const SCOPES = new Set(['repository', 'repository:write', 'repository:admin', 'repository:delete', 'project', 'project:admin', 'email', 'account',
  'account:write', 'team', 'team:write', 'pipeline', 'pipeline:write', 'pipeline:variable', 'runner', 'runner:write', 'test', 'test:write', 'issue',
  'issue:write', 'pullrequest', 'pullrequest:write', 'snippet', 'snippet:write', 'webhook', 'wiki']);
const apiError = (message: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'error', error: { message, ...more } });
/** Endpoints Atlassian removed with CHANGE-2770 (14 April 2026): they answer 410 with its notice. */
const REMOVED = new Set(['/2.0/user/permissions/workspaces', '/2.0/workspaces', '/2.0/repositories', '/2.0/user/permissions/repositories']);
const GONE = apiError('CHANGE-2770 - Functionality has been deprecated', {
  detail: 'Please read the changelog entry for more details.',
  data: { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770' },
});

/** A user as Bitbucket names one anywhere; `/2.0/user` adds the rest. */
const accountOf = (u: EmulatorUser): object => ({ type: 'user', uuid: u.uuid, account_id: u.accountId, nickname: u.nickname, display_name: u.displayName });

export const DEMO_USERS: EmulatorUserInput[] = [
  {
    displayName: 'Ada Lovelace',
    username: 'ada-lovelace',
    uuid: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}',
    accountId: '5c65cab48bcc9e016aeece31',
    emails: [{ email: 'ada@example.com', primary: true }, { email: 'ada.lovelace@example.org' }, { email: 'ada@unconfirmed.example.net', confirmed: false }],
    workspaces: [{ slug: 'analytical-engines', name: 'Analytical Engines', permission: 'owner' }, { slug: 'difference-engines', name: 'Difference Engines' }],
  },
  {
    displayName: 'Grace Hopper',
    username: null,
    uuid: '{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}',
    accountId: '712020:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f',
    emails: [{ email: 'grace@example.com', primary: true }],
    workspaces: [{ slug: 'analytical-engines', name: 'Analytical Engines' }],
  },
  { displayName: 'Edsger Dijkstra', username: 'ewd', emails: [{ email: 'edsger@new.example.com', primary: true, confirmed: false }, { email: 'edsger@example.com' }] },
];


/**
 * Starts a local Bitbucket Cloud on 127.0.0.1: the OAuth consent page and token endpoint, `/2.0/user`, its
 * emails, workspaces and workspace permission, behaving as Bitbucket does (see docs/testing.md), with latency
 * and faults to order. For tests, demos and benchmarks: it uses no network beyond loopback.
 *
 * @example
 * ```ts
 * const bitbucket = await startBitbucketEmulator({ callbackURL: 'http://localhost:3000/auth/bitbucket/callback' });
 * passport.use(new Strategy({ ...bitbucket.strategyOptions, callbackURL: 'http://localhost:3000/auth/bitbucket/callback' }, verify));
 * await bitbucket.close(); // when done
 * ```
 */
export async function startBitbucketEmulator(options: EmulatorOptions = {}): Promise<BitbucketEmulator> {
  const granted = [...(options.scopes ?? ['account', 'email'])];
  const users = (options.users ?? DEMO_USERS).map(resolveUser);
  const pages = (u: EmulatorUser): [string, string] => [`/${encodeURIComponent(u.uuid)}/`, `/avatars/${encodeURIComponent(u.accountId)}.svg`];

  function handle(endpoint: EmulatorEndpoint, { res, url, base, grant }: Call<EmulatorUser>): void {
    if (grant === undefined || grant === 'expired') {
      res.setHeader('WWW-Authenticate', 'Basic realm="Bitbucket.org HTTP"');
      return sendJson(res, 401, apiError(grant ? 'Access token expired.' : 'Unauthorized'));
    }
    const scope = endpoint === 'emails' ? 'email' : 'account';
    if (!grant.scopes.includes(scope)) {
      const detail = { required: [scope], granted: grant.scopes };
      return sendJson(res, 403, apiError('Your credentials lack one or more required privilege scopes.', { detail }));
    }
    const user = grant.user;
    if (endpoint === 'user') {
      // As `fixtures/user.json`.
      const id = encodeURIComponent(user.uuid);
      const [html, avatar] = pages(user);
      const paths = { html, avatar, self: `/2.0/users/${id}`, hooks: `/2.0/users/${id}/hooks`, repositories: `/2.0/repositories/${id}` };
      const links = Object.fromEntries(Object.entries({ ...paths, snippets: `/2.0/snippets/${id}` }).map(([name, path]) => [name, { href: `${base}${path}` }]));
      const fixed = { has_2fa_enabled: null, created_on: '2019-02-19T10:36:46.361566-08:00', is_staff: false, account_status: 'active' };
      return sendJson(res, 200, { ...accountOf(user), ...fixed, links, ...(user.username === null ? {} : { username: user.username }) });
    }
    if (endpoint === 'emails') {
      const links = (e: { email: string }): unknown => ({ self: { href: `${base}/2.0/user/emails/${encodeURIComponent(e.email)}` } });
      return sendJson(res, 200, paginate(user.emails.map((e) => ({ is_primary: e.primary, is_confirmed: e.confirmed, type: 'email', email: e.email, links: links(e) })), url));
    }
    if (endpoint === 'workspaces') {
      // As `fixtures/user-workspaces.json`: no name, no role.
      const workspace = ({ uuid, slug }: EmulatorWorkspace): unknown => ({ type: 'workspace_base', uuid, slug });
      const access = user.workspaces.map((w) => ({ type: 'workspace_access', administrator: w.permission === 'owner', workspace: workspace(w) }));
      return sendJson(res, 200, paginate(access, url));
    }
    // The slug, or the uuid in braces (URL-encoded or not).
    const key = decodeURIComponent(url.pathname.split('/')[4] ?? '');
    const w = user.workspaces.find((x) => x.slug.toLowerCase() === key.toLowerCase() || x.uuid === key);
    if (!w) return sendJson(res, 403, apiError('You do not have access to this workspace.'));
    // As `fixtures/workspace-permission.json`.
    const workspace = { type: 'workspace', uuid: w.uuid, slug: w.slug, name: w.name, links: { self: { href: `${base}/2.0/workspaces/${w.slug}` } } };
    const links = { self: { href: `${base}/2.0/user/workspaces/${w.slug}/permission` } };
    sendJson(res, 200, { type: 'workspace_membership', permission: w.permission, user: accountOf(user), workspace, links });
  }

  const core = await startEmulator<EmulatorEndpoint, EmulatorUser>(options, users, {
    name: 'Bitbucket',
    client: ['OAuth consumer', 'Callback URL'],
    contextPath: '',
    authorizePath: '/site/oauth2/authorize',
    tokenPath: '/site/oauth2/access_token',
    routes: ROUTES,
    pages,
    notFound: (res, url) => (REMOVED.has(url.pathname) ? sendJson(res, 410, GONE) : sendJson(res, 404, apiError('Resource not found'))),
    handle,
    error: apiError,
    findUser: (key) => users.find((u) => u.uuid === key || u.username === key || u.accountId === key),
    consent: () => ({
      text: `<p>An application wants to <b>read your account information</b>${granted.includes('email') ? ' and <b>read your email addresses</b>' : ''}.</p>`,
      accounts: users.map((u) => ({ value: u.uuid, id: u.username ?? u.uuid, label: `Grant access as ${u.displayName}`, note: u.emails.find((e) => e.primary)?.email ?? '' })),
    }),
    // NOTE: Bitbucket takes the scopes from the consumer's permission boxes, not the request.
    scopes: () => granted,
    // It does parse `scope`: a name it does not know (`account,email`, comma-joined) is refused.
    refusal: (params) => ((params.get('scope') ?? '').split(' ').every((name) => name === '' || SCOPES.has(name)) ? undefined : 'invalid_scope'),
    clientAuth: 'basic',
    notForm: [400, 'unsupported_grant_type', 'Unsupported grant type: None'],
    badClient: [400, 'unauthorized_client', 'Invalid OAuth client credentials'],
    tokenBody: ({ scope, ...rest }, grantType) => ({ [options.tokenFormat ?? 'scope']: scope, ...rest, state: grantType }),
    // NOTE: Bitbucket's codes live 10 minutes; a rotated refresh token dies minutes after its first use.
    defaults: { clientID: 'emulator-key', clientSecret: 'emulator-secret', codeLifetimeMs: 600_000, accessTokenLifetimeSec: 7200, refreshGraceMs: 120_000 },
  });
  const { url: base, clientID, clientSecret, authorizationURL, tokenURL } = core;
  const strategyOptions = { clientID, clientSecret, authorizationURL, tokenURL, userProfileURL: `${base}/2.0/user`, userEmailsURL: `${base}/2.0/user/emails`, userWorkspacesURL: `${base}/2.0/user/workspaces` };
  return Object.assign(core, strategyOptions, { strategyOptions });
}

function paginate<T>(values: T[], url: URL): Record<string, unknown> {
  const pagelen = clampInt(url.searchParams.get('pagelen'), 10, 1, 100);
  const page = clampInt(url.searchParams.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
  const start = (page - 1) * pagelen;
  const next = new URL(url.href);
  next.searchParams.set('pagelen', String(pagelen));
  next.searchParams.set('page', String(page + 1));
  return { pagelen, values: values.slice(start, start + pagelen), page, size: values.length, ...(start + pagelen < values.length ? { next: next.href } : {}) };
}

function resolveUser(input: EmulatorUserInput, index: number): EmulatorUser {
  const slug = input.displayName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || `user-${index}`;
  const emails = input.emails ?? [{ email: `${slug}@example.com` }];
  return {
    uuid: input.uuid ?? `{${randomUUID()}}`,
    accountId: input.accountId ?? randomBytes(12).toString('hex'),
    username: input.username === undefined ? slug : input.username,
    nickname: input.nickname ?? input.displayName,
    displayName: input.displayName,
    emails: emails.map((e, i) => ({ email: e.email, primary: e.primary ?? (i === 0 && !emails.some((x) => x.primary)), confirmed: e.confirmed ?? true })),
    workspaces: (input.workspaces ?? []).map((w) => ({ slug: w.slug, name: w.name ?? w.slug, uuid: w.uuid ?? `{${randomUUID()}}`, permission: w.permission ?? 'member' })),
  };
}
