import type { Agent, OutgoingHttpHeaders } from 'node:http';
import { isJsonObject } from './json';
import { VERSION } from './version';

/** Default bounds: 10 s a request, 1 MiB a response (a full page of 100 emails is ~30 KB). */
export const DEFAULT_TIMEOUT = 10_000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Default number of retries of each GET of the profile stage. */
export const DEFAULT_RETRIES = 2;
/** The login's deadline, in multiples of `timeout`: the token exchange and the profile stage together. */
export const LOGIN_TIMEOUTS = 3;

export const PREFIX = 'passport-bitbucket-auth:';
const MAX_TIMEOUT = 2_147_483_647; // what setTimeout accepts
const MAX_RETRIES = 5;

/** The options both strategies share, after checking, with every default filled in. */
export interface CommonOptions {
  clientID: string;
  clientSecret: string;
  state: boolean;
  passReqToCallback: boolean;
  timeout: number;
  retries: number;
  /** `false`, or the PKCE method handed to passport-oauth2. */
  pkce: false | 'S256' | 'plain';
  headers: OutgoingHttpHeaders;
  /** The app's own agent for every request, or undefined for the strategy's own. */
  agent: Agent | undefined;
  /** The callback URLs a login may name per request: `callbackURL` and `callbackURLs`. */
  callbackURLs: string[];
  /** Whether the profile may be skipped (`skipUserProfile` set to anything but false). */
  maySkipProfile: boolean;
  /** Options handed to passport-oauth2 unchanged, when the caller gave them. */
  passThrough: Record<string, unknown>;
}

/** The options only one product's strategy reads, and the strategy that does. */
const PRODUCTS = {
  cloud: {
    strategy: 'BitbucketStrategy',
    product: 'Bitbucket Cloud',
    names: ['userProfileURL', 'userEmailsURL', 'userWorkspacesURL', 'workspaces', 'minimumWorkspaceRole', 'fetchWorkspaces', 'skipEmails', 'includeUnverifiedEmails'],
  },
  datacenter: {
    strategy: 'BitbucketDataCenterStrategy',
    product: 'Bitbucket Data Center',
    names: ['baseURL', 'allowInsecureHTTP', 'avatarSize', 'trustEmail', 'projects', 'repositories'],
  },
} as const;

/** What a product adds to the shared option checks. */
export interface ProductOptions {
  /** Which product: its own option names pass, the other product's are refused. */
  product: keyof typeof PRODUCTS;
  /** Its own boolean options. */
  booleans: readonly string[];
  /** Where the credentials are found, for the message when one is missing. */
  credentials: { id: string; secret: string; where: string };
}

/** Option names both strategies (and passport-oauth2) read. */
const COMMON_NAMES = [
  'clientID', 'clientSecret', 'callbackURL', 'authorizationURL', 'tokenURL', 'state', 'pkce', 'store', 'sessionKey',
  'skipUserProfile', 'timeout', 'retries', 'userAgent', 'customHeaders', 'proxy', 'scope', 'scopeSeparator',
  'passReqToCallback', 'agent', 'callbackURLs',
];

/**
 * Checks the options both strategies share (which may come from plain JavaScript). Every
 * problem is a TypeError (RangeError for a timeout out of range) naming the option; no value
 * is echoed, so a secret pasted into the wrong option does not end up in a log.
 */
export function resolveCommon(input: unknown, product: ProductOptions): CommonOptions & { input: Record<string, unknown> } {
  if (!isJsonObject(input)) throw new TypeError(`${PREFIX} options must be an object`);
  checkOtherProduct(input, product.product);
  checkNames(input, [...COMMON_NAMES, ...PRODUCTS[product.product].names]);
  const clientID = requiredCredential(input, 'clientID', product.credentials.id, product.credentials.where);
  const clientSecret = requiredCredential(input, 'clientSecret', product.credentials.secret, product.credentials.where);
  const timeout = input['timeout'] ?? DEFAULT_TIMEOUT;
  if (typeof timeout !== 'number') throw new TypeError(`${PREFIX} options.timeout must be a number of milliseconds`);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    throw new RangeError(`${PREFIX} options.timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}`);
  }

  for (const key of ['state', 'passReqToCallback', 'proxy', ...product.booleans]) {
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
  const callbackURLs = input['callbackURLs'] ?? [];
  if (!Array.isArray(callbackURLs) || !callbackURLs.every((url) => typeof url === 'string' && url !== '')) {
    throw new TypeError(`${PREFIX} options.callbackURLs must be an array of callback URLs (strings)`);
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
    if (value !== undefined && !['clientSecret', 'pkce', 'agent', 'callbackURLs'].includes(key)) passThrough[key] = value;
  }

  return {
    input,
    clientID,
    clientSecret,
    state: input['state'] !== false,
    passReqToCallback: input['passReqToCallback'] === true,
    timeout,
    retries,
    pkce,
    agent: agent as Agent | undefined,
    headers: { ...(custom as OutgoingHttpHeaders), 'User-Agent': userAgent },
    callbackURLs: [...(typeof input['callbackURL'] === 'string' ? [input['callbackURL']] : []), ...(callbackURLs as string[])],
    maySkipProfile: skip !== undefined && skip !== false,
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

/**
 * An option of the other product would be ignored in silence, and with it the restriction it
 * asks for (`workspaces` on Data Center signs anyone in): a TypeError names the strategy
 * that takes it. An option set to `undefined` asks for nothing and passes.
 */
function checkOtherProduct(input: Record<string, unknown>, product: keyof typeof PRODUCTS): void {
  const other = product === 'cloud' ? PRODUCTS.datacenter : PRODUCTS.cloud;
  for (const name of other.names) {
    if (input[name] !== undefined) {
      throw new TypeError(`${PREFIX} options.${name} is an option of ${other.strategy} (${other.product}), not of ${PRODUCTS[product].strategy}`);
    }
  }
}

/**
 * A name that is not an option but nearly one (`clientId`, `callbackUrl`, `client_secret`,
 * `clientSecretKey`, `timout`) is a typo that would otherwise be ignored in silence: a
 * TypeError names the option meant. Other unknown names pass through to passport-oauth2.
 */
function checkNames(input: Record<string, unknown>, known: readonly string[]): void {
  for (const name of Object.keys(input)) {
    if (known.includes(name)) continue;
    const meant = known.find((candidate) => nearly(name, candidate));
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

function requiredCredential(input: Record<string, unknown>, key: string, label: string, where: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${PREFIX} options.${key} is required: use the ${label} of your ${where}`);
  }
  return value;
}

export function endpoint(input: Record<string, unknown>, key: string, fallback: string): string {
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
