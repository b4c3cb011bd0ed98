import type { Agent, OutgoingHttpHeaders } from 'node:http';
import { isJsonObject, parseHttpURL } from './json';
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

/**
 * One check of optional values: the options it applies to, whether a given value is valid, and
 * how the TypeError that names the option ends otherwise. `undefined` always passes.
 */
export type Check = readonly [names: readonly string[], valid: (value: unknown) => boolean, problem: string];

/** What a product adds to the shared option checks. */
export interface ProductOptions {
  /** Which product: its own option names pass, the other product's are refused. */
  product: keyof typeof PRODUCTS;
  /** Checks of its own options, run after the shared ones. */
  checks: readonly Check[];
  /** Defaults of its own options, for a value left out (or null). */
  defaults?: Record<string, unknown>;
  /** Where the credentials are found, for the message when one is missing. */
  credentials: { id: string; secret: string; where: string };
}

/** Option names both strategies (and passport-oauth2) read. */
const COMMON_NAMES = [
  'clientID', 'clientSecret', 'callbackURL', 'authorizationURL', 'tokenURL', 'state', 'pkce', 'store', 'sessionKey',
  'skipUserProfile', 'timeout', 'retries', 'userAgent', 'customHeaders', 'proxy', 'scope', 'scopeSeparator',
  'passReqToCallback', 'agent', 'callbackURLs',
];

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** A check that each of `names` is true or false. */
export function flags(...names: string[]): Check {
  return [names, (value) => typeof value === 'boolean', 'must be true or false'];
}

/** A check that `name` is a non-empty array of strings that match `pattern`. */
export function listOf(name: string, pattern: RegExp, what: string): Check {
  const valid = (value: unknown): boolean => isStrings(value) && value.length > 0 && value.every((v) => pattern.test(v));
  return [[name], valid, `must be a non-empty array of ${what}`];
}

/** Defaults of the shared options, for a value left out (or null). */
const COMMON_DEFAULTS = {
  timeout: DEFAULT_TIMEOUT,
  retries: DEFAULT_RETRIES,
  userAgent: `passport-bitbucket-auth/${VERSION}`,
  customHeaders: {},
  callbackURLs: [],
};

const COMMON_CHECKS: readonly Check[] = [
  flags('state', 'passReqToCallback', 'proxy'),
  [['agent'], (v) => isJsonObject(v) && typeof v['addRequest'] === 'function', 'must be an http.Agent or https.Agent'],
  [['retries'], (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_RETRIES, `must be a whole number from 0 to ${MAX_RETRIES}`],
  [['callbackURL', 'scopeSeparator', 'sessionKey'], (v) => typeof v === 'string', 'must be a string'],
  [['callbackURLs'], (v) => isStrings(v) && !v.includes(''), 'must be an array of callback URLs (strings)'],
  [['scope'], (v) => typeof v === 'string' || isStrings(v), 'must be a string or an array of strings'],
  [['skipUserProfile'], (v) => typeof v === 'boolean' || typeof v === 'function', 'must be a boolean or a function'],
  [
    ['store'],
    (v) => isJsonObject(v) && typeof v['store'] === 'function' && typeof v['verify'] === 'function',
    'must be an object with store() and verify() methods',
  ],
  [['pkce'], (v) => typeof v === 'boolean' || v === 'S256' || v === 'plain', "must be true, false, 'S256' or 'plain'"],
  [['userAgent'], (v) => typeof v === 'string' && v !== '', 'must be a non-empty string'],
  [
    ['customHeaders'],
    (v) => isJsonObject(v) && Object.values(v).every((h) => typeof h === 'string' || typeof h === 'number' || isStrings(h)),
    'must be an object of header names to strings',
  ],
];

/**
 * Checks the options both strategies share (which may come from plain JavaScript), then the
 * product's own. Every problem is a TypeError (RangeError for a timeout out of range) naming
 * the option; no value is echoed, so a secret pasted into the wrong option does not end up in
 * a log.
 */
export function resolveCommon(input: unknown, product: ProductOptions): CommonOptions & { values: Record<string, unknown> } {
  if (!isJsonObject(input)) throw new TypeError(`${PREFIX} options must be an object`);
  checkOtherProduct(input, product.product);
  checkNames(input, [...COMMON_NAMES, ...PRODUCTS[product.product].names]);
  const { id, secret, where } = product.credentials;
  for (const [key, label] of [['clientID', id], ['clientSecret', secret]] as const) {
    const value = input[key];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new TypeError(`${PREFIX} options.${key} is required: use the ${label} of your ${where}`);
    }
  }
  const given: Record<string, unknown> = { ...input };
  for (const [name, value] of Object.entries({ ...COMMON_DEFAULTS, ...product.defaults })) given[name] ??= value;
  const timeout = given['timeout'];
  if (typeof timeout !== 'number') throw new TypeError(`${PREFIX} options.timeout must be a number of milliseconds`);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT) {
    throw new RangeError(`${PREFIX} options.timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}`);
  }
  for (const [names, valid, problem] of [...COMMON_CHECKS, ...product.checks]) {
    for (const name of names) {
      if (given[name] !== undefined && !valid(given[name])) throw new TypeError(`${PREFIX} options.${name} ${problem}`);
    }
  }
  const store = input['store'] as { store: { length: number } } | undefined;
  const pkce = resolvePkce(input['pkce'] as boolean | 'S256' | 'plain' | undefined, input['state'] !== false, store);

  // Everything else goes to passport-oauth2 as given (it may know options this package does
  // not), except the secret, which only BitbucketOAuth2 keeps.
  const passThrough: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && !['clientSecret', 'pkce', 'agent', 'callbackURLs'].includes(key)) passThrough[key] = value;
  }
  const callbackURL = input['callbackURL'] as string | undefined;
  const skip = input['skipUserProfile'];
  return {
    values: given,
    clientID: input['clientID'] as string,
    clientSecret: input['clientSecret'] as string,
    state: input['state'] !== false,
    passReqToCallback: input['passReqToCallback'] === true,
    timeout,
    retries: given['retries'] as number,
    pkce,
    agent: input['agent'] as Agent | undefined,
    headers: { ...(given['customHeaders'] as OutgoingHttpHeaders), 'User-Agent': given['userAgent'] as string },
    callbackURLs: [...(callbackURL === undefined ? [] : [callbackURL]), ...(given['callbackURLs'] as string[])],
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
function resolvePkce(value: boolean | 'S256' | 'plain' | undefined, state: boolean, store: { store: { length: number } } | undefined): false | 'S256' | 'plain' {
  if (value === false) return false;
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
  return value === 'plain' ? 'plain' : 'S256';
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

/** An absolute http(s) URL without credentials: what an endpoint option must be. */
export function isEndpointURL(value: unknown): boolean {
  const url = parseHttpURL(value);
  return url !== undefined && !url.username && !url.password;
}
