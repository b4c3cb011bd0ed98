import type { Agent, OutgoingHttpHeaders } from 'node:http';
import { isJsonObject } from './json';
import { VERSION } from './version';

/** Bitbucket Cloud's endpoints. */
export const AUTHORIZATION_URL = 'https://bitbucket.org/site/oauth2/authorize';
export const TOKEN_URL = 'https://bitbucket.org/site/oauth2/access_token';
export const USER_PROFILE_URL = 'https://api.bitbucket.org/2.0/user';
export const USER_EMAILS_URL = 'https://api.bitbucket.org/2.0/user/emails';
export const USER_WORKSPACES_URL = 'https://api.bitbucket.org/2.0/user/workspaces';

/** Default bounds: 10 s a request, 1 MiB a response (a full page of 100 emails is ~30 KB). */
export const DEFAULT_TIMEOUT = 10_000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Default number of retries of each GET of the profile stage. */
export const DEFAULT_RETRIES = 2;
/** The login's deadline, in multiples of `timeout`: the token exchange and the profile stage together. */
export const LOGIN_TIMEOUTS = 3;

/** The roles `minimumWorkspaceRole` accepts, lowest first. */
export const MINIMUM_ROLES = ['member', 'create-project', 'owner'] as const;
export type MinimumWorkspaceRole = (typeof MINIMUM_ROLES)[number];

/** Bitbucket workspace slugs: letters, digits, dashes, underscores and periods. */
const SLUG = /^[A-Za-z0-9_.-]{1,100}$/;
/** Each listed workspace is one concurrent request per login: a bound on them. */
const MAX_WORKSPACES = 20;

const PREFIX = 'passport-bitbucket-auth:';
const MAX_TIMEOUT = 2_147_483_647; // what setTimeout accepts
const MAX_RETRIES = 5;

/** The options after checking, with every default filled in. */
export interface ResolvedOptions {
  clientID: string;
  clientSecret: string;
  authorizationURL: string;
  tokenURL: string;
  userProfileURL: string;
  userEmailsURL: string;
  userWorkspacesURL: string;
  /** Allowed workspace slugs, or undefined when sign-in is not restricted. */
  workspaces: string[] | undefined;
  minimumWorkspaceRole: MinimumWorkspaceRole;
  fetchWorkspaces: boolean;
  state: boolean;
  skipEmails: boolean;
  includeUnverifiedEmails: boolean;
  passReqToCallback: boolean;
  timeout: number;
  retries: number;
  /** `false`, or the PKCE method handed to passport-oauth2. */
  pkce: false | 'S256' | 'plain';
  headers: OutgoingHttpHeaders;
  /** The app's own agent for every request, or undefined for the strategy's own. */
  agent: Agent | undefined;
  /** Options handed to passport-oauth2 unchanged, when the caller gave them. */
  passThrough: Record<string, unknown>;
}

/**
 * Checks the caller's options (which may come from plain JavaScript) and returns a new
 * object: the caller's is never changed. Every problem is a TypeError (RangeError for a
 * timeout out of range) naming the option; no value is echoed, so a secret pasted into the
 * wrong option does not end up in a log.
 */
export function resolveOptions(input: unknown): ResolvedOptions {
  if (!isJsonObject(input)) throw new TypeError(`${PREFIX} options must be an object`);
  checkNames(input);
  const clientID = requiredCredential(input, 'clientID', 'Key');
  const clientSecret = requiredCredential(input, 'clientSecret', 'Secret');

  const timeout = input['timeout'] ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== 'number') throw new TypeError(`${PREFIX} options.timeout must be a number of milliseconds`);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    throw new RangeError(`${PREFIX} options.timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}`);
  }

  for (const key of ['state', 'skipEmails', 'includeUnverifiedEmails', 'passReqToCallback', 'proxy', 'fetchWorkspaces'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'boolean') {
      throw new TypeError(`${PREFIX} options.${key} must be true or false`);
    }
  }
  const agent = input['agent'];
  if (agent !== undefined && !(isJsonObject(agent) && typeof agent['addRequest'] === 'function')) {
    throw new TypeError(`${PREFIX} options.agent must be an http.Agent or https.Agent`);
  }
  const retries = input['retries'] ?? DEFAULT_RETRIES;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new TypeError(`${PREFIX} options.retries must be a whole number from 0 to ${MAX_RETRIES}`);
  }
  for (const key of ['callbackURL', 'scopeSeparator', 'sessionKey'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'string') {
      throw new TypeError(`${PREFIX} options.${key} must be a string`);
    }
  }
  const scope = input['scope'];
  if (
    scope !== undefined &&
    typeof scope !== 'string' &&
    !(Array.isArray(scope) && scope.every((s) => typeof s === 'string'))
  ) {
    throw new TypeError(`${PREFIX} options.scope must be a string or an array of strings`);
  }
  const skip = input['skipUserProfile'];
  if (skip !== undefined && typeof skip !== 'boolean' && typeof skip !== 'function') {
    throw new TypeError(`${PREFIX} options.skipUserProfile must be a boolean or a function`);
  }
  const store = input['store'];
  if (
    store !== undefined &&
    !(isJsonObject(store) && typeof store['store'] === 'function' && typeof store['verify'] === 'function')
  ) {
    throw new TypeError(`${PREFIX} options.store must be an object with store() and verify() methods`);
  }
  const pkce = resolvePkce(input['pkce'], input['state'] !== false, store as { store: { length: number } } | undefined);

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
  if (workspaces !== undefined && skip !== undefined && skip !== false) {
    throw new TypeError(`${PREFIX} options.workspaces needs the profile: it cannot be combined with skipUserProfile`);
  }

  const userAgent = input['userAgent'] ?? `passport-bitbucket-auth/${VERSION}`;
  if (typeof userAgent !== 'string' || userAgent === '') {
    throw new TypeError(`${PREFIX} options.userAgent must be a non-empty string`);
  }
  const custom = input['customHeaders'] ?? {};
  if (!isJsonObject(custom) || !Object.values(custom).every(isHeaderValue)) {
    throw new TypeError(`${PREFIX} options.customHeaders must be an object of header names to strings`);
  }

  // Everything else goes to passport-oauth2 as given (it may know options this package does
  // not), except the secret, which only BitbucketOAuth2 keeps.
  const passThrough: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && key !== 'clientSecret' && key !== 'pkce' && key !== 'agent') passThrough[key] = value;
  }

  return {
    clientID,
    clientSecret,
    authorizationURL: endpoint(input, 'authorizationURL', AUTHORIZATION_URL),
    tokenURL: endpoint(input, 'tokenURL', TOKEN_URL),
    userProfileURL: endpoint(input, 'userProfileURL', USER_PROFILE_URL),
    userEmailsURL: endpoint(input, 'userEmailsURL', USER_EMAILS_URL),
    userWorkspacesURL: endpoint(input, 'userWorkspacesURL', USER_WORKSPACES_URL),
    workspaces: slugs,
    minimumWorkspaceRole: minimumRole as MinimumWorkspaceRole,
    fetchWorkspaces: input['fetchWorkspaces'] === true,
    state: input['state'] !== false,
    skipEmails: input['skipEmails'] === true,
    includeUnverifiedEmails: input['includeUnverifiedEmails'] === true,
    passReqToCallback: input['passReqToCallback'] === true,
    timeout,
    retries,
    pkce,
    agent: agent as Agent | undefined,
    headers: { ...(custom as OutgoingHttpHeaders), 'User-Agent': userAgent },
    passThrough,
  };
}

/**
 * PKCE is on (S256) by default, as RFC 9700 asks, wherever a state store can keep the
 * verifier: the session (`state`, the default) or a custom `store` whose `store()` takes it
 * (passport-oauth2 passes the verifier only to a five-argument `store(req, verifier, state,
 * meta, callback)`). `pkce: false` opts out. With `state: false` and no store there is nowhere
 * to keep a verifier: PKCE stays off unless asked for, and asking is an error.
 */
function resolvePkce(value: unknown, state: boolean, store: { store: { length: number } } | undefined): false | 'S256' | 'plain' {
  if (value !== undefined && typeof value !== 'boolean' && value !== 'S256' && value !== 'plain') {
    throw new TypeError(`${PREFIX} options.pkce must be true, false, 'S256' or 'plain'`);
  }
  if (value === false) return false;
  const method = value === 'plain' ? 'plain' : 'S256';
  if (store !== undefined && store.store.length !== 5) {
    throw new TypeError(
      `${PREFIX} options.store cannot keep a PKCE verifier: its store() must take (req, verifier, state, meta, callback). ` +
        'Use such a store, or pass pkce: false to sign in without PKCE.',
    );
  }
  if (store === undefined && !state) {
    if (value === undefined) return false;
    throw new TypeError(`${PREFIX} options.pkce needs somewhere to keep the verifier: leave state on, or give a store`);
  }
  return method;
}

/** Every option name this package or passport-oauth2 reads. */
const KNOWN = [
  'clientID', 'clientSecret', 'callbackURL', 'authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailsURL',
  'userWorkspacesURL', 'workspaces', 'minimumWorkspaceRole', 'fetchWorkspaces', 'state', 'pkce', 'store', 'sessionKey',
  'skipUserProfile', 'skipEmails', 'includeUnverifiedEmails', 'timeout', 'retries', 'userAgent', 'customHeaders', 'proxy',
  'scope', 'scopeSeparator', 'passReqToCallback', 'agent',
];
const KNOWN_NAMES = new Set(KNOWN);

/**
 * A name that is not an option but nearly one (`clientId`, `callbackUrl`, `client_secret`,
 * `clientSecretKey`, `timout`) is a typo that would otherwise be ignored in silence: a
 * TypeError names the option meant. Other unknown names pass through to passport-oauth2.
 */
function checkNames(input: Record<string, unknown>): void {
  for (const name of Object.keys(input)) {
    if (KNOWN_NAMES.has(name)) continue;
    const meant = KNOWN.find((known) => nearly(name, known));
    if (meant) throw new TypeError(`${PREFIX} options.${name} is not an option: did you mean ${meant}?`);
  }
}

function nearly(name: string, known: string): boolean {
  const a = name.toLowerCase().replace(/[^a-z]/g, '');
  const b = known.toLowerCase();
  if (a === b) return true;
  if (a.length >= 6 && (a.startsWith(b) || b.startsWith(a)) && Math.abs(a.length - b.length) <= 3) return true;
  return b.length >= 6 && distance(a, b) <= 2;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), for short names. */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const row = rows[i]!;
      const above = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

function requiredCredential(input: Record<string, unknown>, key: string, label: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(
      `${PREFIX} options.${key} is required: use the ${label} of your Bitbucket OAuth consumer ` +
        `(Workspace settings → OAuth consumers, the consumer's ${label})`,
    );
  }
  return value;
}

function endpoint(input: Record<string, unknown>, key: string, fallback: string): string {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value === 'string') {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url && (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password) {
      return value;
    }
  }
  throw new TypeError(`${PREFIX} options.${key} must be an absolute http(s) URL without credentials`);
}

function isHeaderValue(value: unknown): boolean {
  return (
    typeof value === 'string' ||
    typeof value === 'number' ||
    (Array.isArray(value) && value.every((v) => typeof v === 'string'))
  );
}
