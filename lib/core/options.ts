import { Agent, type OutgoingHttpHeaders, validateHeaderName, validateHeaderValue } from 'node:http';
import type { StateStore } from 'passport-oauth2';
import { holdsSecret, secretForms } from './errors';
import { attempt, inRange, isJsonObject, parseHttpURL } from './json';

/** The package version, sent in the default User-Agent. A test keeps it equal to package.json. */
export const VERSION = '0.1.0';
/** Default bounds: 10 s a request, 1 MiB a response (a full page of 100 emails is ~30 KB), 2 retries of each profile-stage GET. */
export const DEFAULT_TIMEOUT = 10_000;
export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_RETRIES = 2;
/** The login's deadline, in multiples of `timeout`: the token exchange and the profile stage together. */
export const LOGIN_TIMEOUTS = 3;

export const PREFIX = 'passport-bitbucket-auth:';
const MAX_TIMEOUT = Math.floor(2_147_483_647 / LOGIN_TIMEOUTS); // the login deadline is what setTimeout accepts at most
const MAX_RETRIES = 5;

/** The options both strategies share, checked, with every default filled in (a named type: the .d.ts files import only `node:`). */
export interface CommonOptions {
  clientID: string;
  clientSecret: string;
  state: boolean;
  passReqToCallback: boolean;
  timeout: number;
  retries: number;
  pkce: false | 'S256' | 'plain';
  headers: OutgoingHttpHeaders;
  agent: Agent | undefined;
  callbackURLs: string[];
  maySkipProfile: boolean;
  passThrough: Record<string, unknown>;
  /** Every option given, defaults filled in, for the product's own settings. */
  values: Record<string, unknown>;
}

const PRODUCTS = {
  cloud: {
    strategy: 'BitbucketStrategy', product: 'Bitbucket Cloud', id: 'Key', secret: 'Secret',
    names: ['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailsURL', 'userWorkspacesURL', 'workspaces', 'minimumWorkspaceRole',
      'fetchWorkspaces', 'skipEmails', 'includeUnverifiedEmails'],
    where: "Bitbucket OAuth consumer (Workspace settings → OAuth consumers, the consumer's Key and Secret)",
  },
  datacenter: {
    strategy: 'BitbucketDataCenterStrategy', product: 'Bitbucket Data Center', id: 'Client ID', secret: 'Client secret',
    names: ['baseURL', 'allowInsecureHTTP', 'avatarSize', 'trustEmail', 'projects', 'repositories'],
    where: 'Bitbucket Data Center incoming application link (Administration → Application Links)',
  },
} as const;

export type Check = readonly [names: readonly string[], valid: (value: unknown) => boolean, problem: string];

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');
const hasMethods = (value: unknown, ...names: string[]): boolean => isJsonObject(value) && names.every((name) => typeof value[name] === 'function');
/** Headers the strategy sets itself, or that frame the request: from the options they would break or redirect every request. */
const RESERVED = ['authorization', 'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade'];
/** A header Node will send and the strategy does not set: a token name; a string, number or strings without control characters (CR/LF). */
function sendable(name: string, value: unknown): boolean {
  if (RESERVED.includes(name.toLowerCase()) || !(typeof value === 'string' || typeof value === 'number' || isStrings(value))) return false;
  return attempt(() => (validateHeaderName(name), validateHeaderValue(name, value as string), true)) === true;
}

export const flags = (...names: string[]): Check => [names, (value) => typeof value === 'boolean', 'must be true or false'];

export const listOf = (name: string, pattern: RegExp, what: string): Check =>
  [[name], (value) => isStrings(value) && value.length > 0 && value.every((v) => pattern.test(v)), `must be a non-empty array of ${what}`];

export function isEndpointURL(value: unknown): boolean {
  const url = parseHttpURL(value);
  return url !== undefined && !url.username && !url.password;
}

const COMMON_CHECKS: readonly Check[] = [
  flags('state', 'passReqToCallback', 'proxy'),
  [['agent'], (v) => v instanceof Agent, 'must be an http.Agent or https.Agent (proxy agents built on them, as https-proxy-agent 7 is, are)'],
  [['retries'], (v) => inRange(v, 0, MAX_RETRIES), `must be a whole number from 0 to ${MAX_RETRIES}`],
  [['callbackURL', 'scopeSeparator', 'sessionKey'], (v) => typeof v === 'string', 'must be a string'],
  [['callbackURLs'], (v) => isStrings(v) && !v.includes(''), 'must be an array of callback URLs (strings)'],
  [['scope'], (v) => typeof v === 'string' || isStrings(v), 'must be a string or an array of strings'],
  [['skipUserProfile'], (v) => typeof v === 'boolean' || typeof v === 'function', 'must be a boolean or a function'],
  [['store'], (v) => hasMethods(v, 'store', 'verify'), 'must be an object with store() and verify() methods'],
  [['pkce'], (v) => typeof v === 'boolean' || v === 'S256' || v === 'plain', "must be true, false, 'S256' or 'plain'"],
  [['userAgent'], (v) => typeof v === 'string' && v !== '' && sendable('User-Agent', v), 'must be a non-empty string Node can send as a header'],
  [['customHeaders'], (v) => isJsonObject(v) && Object.entries(v).every(([name, h]) => h === undefined || sendable(name, h)),
    'must be an object of header names to values Node can send, without Authorization, Host or a framing header (the strategy sets those)'],
];

/** Checks the shared options, then `checks`: a TypeError (RangeError: timeout out of range) names the option, never its value (maybe a secret). */
export function resolveCommon(raw: unknown, product: keyof typeof PRODUCTS, checks: readonly Check[], defaults: Record<string, unknown> = {}): CommonOptions {
  if (!isJsonObject(raw)) throw new TypeError(`${PREFIX} options must be an object`);
  const own = PRODUCTS[product];
  const other = PRODUCTS[product === 'cloud' ? 'datacenter' : 'cloud'];
  // An option of the other product would be ignored, and with it the restriction it asks for (`workspaces` on Data Center).
  const foreign = other.names.find((name) => raw[name] !== undefined);
  if (foreign) throw new TypeError(`${PREFIX} options.${foreign} is an option of ${other.strategy} (${other.product}), not of ${own.strategy}`);
  const known = ['clientID', 'clientSecret', 'timeout', ...COMMON_CHECKS.flatMap(([names]) => names), ...own.names];
  checkNames(raw, optionNames(raw), known, own.strategy);
  // Each read once, by name (a prototype's, getter's or Proxy's counts), into a null-prototype object; what only Object.prototype has is pollution.
  let root = Reflect.getPrototypeOf(raw) as Record<string, unknown> | null;
  while (root && !isObjectPrototype(root)) root = Reflect.getPrototypeOf(root) as Record<string, unknown> | null;
  const given: Record<string, unknown> = Object.create(null);
  const read = known.map((name) => [name, raw[name]] as const);
  for (const [name, value] of read) if (value !== undefined && (Object.hasOwn(raw, name) || root?.[name] !== value)) given[name] = value;
  // What passport-oauth2 takes goes to it as given (checked below); the secret only to BitbucketOAuth2.
  const passThrough = Object.fromEntries(Object.entries(given).filter(([key]) => !['clientSecret', 'pkce', 'agent', 'callbackURLs'].includes(key)));
  for (const [key, label] of [['clientID', own.id], ['clientSecret', own.secret]] as const) {
    const value = given[key];
    if (typeof value !== 'string' || value.trim() === '') throw new TypeError(`${PREFIX} options.${key} is required: use the ${label} of your ${own.where}`);
  }
  // No other option holds the client secret, even encoded: the authorize URL goes to every browser, URLs and headers to logs.
  const forms = secretForms([given['clientSecret'] as string]);
  const holder = Object.keys(given).find((name) => name !== 'clientSecret' && readings(given[name]).some((text) => holdsSecret(text, forms)));
  if (holder) throw new TypeError(`${PREFIX} options.${holder} holds the client secret: it goes only in the token request, never in a URL or header`);
  const shared = { timeout: DEFAULT_TIMEOUT, retries: DEFAULT_RETRIES, userAgent: `passport-bitbucket-auth/${VERSION}`, customHeaders: {}, callbackURLs: [] };
  // Only a missing option takes its default: `null` goes to the checks, as any other value that is not one.
  for (const [name, value] of Object.entries({ ...shared, ...defaults })) if (given[name] === undefined) given[name] = value;
  const timeout = given['timeout'];
  if (typeof timeout !== 'number') throw new TypeError(`${PREFIX} options.timeout must be a number of milliseconds`);
  if (!inRange(timeout, 1, MAX_TIMEOUT)) throw new RangeError(`${PREFIX} options.timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT}`);
  for (const [names, valid, problem] of [...COMMON_CHECKS, ...checks]) {
    const wrong = names.find((name) => given[name] !== undefined && !valid(given[name]));
    if (wrong) throw new TypeError(`${PREFIX} options.${wrong} ${problem}`);
  }
  const state = given['state'] !== false;
  const custom = Object.entries(given['customHeaders'] as object).filter(([, value]) => value !== undefined); // undefined: not given
  return {
    values: given, passThrough, clientID: given['clientID'] as string, clientSecret: given['clientSecret'] as string, state, timeout,
    passReqToCallback: given['passReqToCallback'] === true, retries: given['retries'] as number, agent: given['agent'] as Agent | undefined,
    pkce: resolvePkce(given['pkce'], state, given['store'] as StateStore | undefined),
    headers: { 'User-Agent': given['userAgent'] as string, ...Object.fromEntries(custom) },
    callbackURLs: [given['callbackURL'], ...(given['callbackURLs'] as string[])].filter((url) => typeof url === 'string'),
    maySkipProfile: given['skipUserProfile'] !== undefined && given['skipUserProfile'] !== false,
  };
}

/** PKCE is S256 by default (RFC 9700) where the verifier can be kept: in the session (`state`) or a `store`; else off, and asking for it an error. */
function resolvePkce(value: unknown, state: boolean, store: StateStore | undefined): CommonOptions['pkce'] {
  if (value === false) return false;
  // NOTE: passport-oauth2 passes the verifier only to a five-argument `store(req, verifier, state, meta, callback)`.
  if (store !== undefined && store.store.length !== 5) {
    throw new TypeError(`${PREFIX} options.store cannot keep a PKCE verifier: its store() must take (req, verifier, state, meta, callback). ` +
      'Use such a store, or pass pkce: false to sign in without PKCE.');
  }
  const nowhere = store === undefined && !state;
  if (nowhere && value === undefined) return false;
  if (nowhere) throw new TypeError(`${PREFIX} options.pkce needs somewhere to keep the verifier: leave state on, or give a store`);
  return value === 'plain' ? 'plain' : 'S256';
}

/** An option neither the strategy nor passport-oauth2 takes is a TypeError (a misspelt gate gates nothing), naming one it nearly is (`clientId`). */
function checkNames(input: Record<string, unknown>, names: readonly string[], known: readonly string[], strategy: string): void {
  const name = names.find((key) => !known.includes(key) && input[key] !== undefined);
  if (name === undefined) return;
  const a = name.toLowerCase().replace(/[^a-z]/g, '');
  const near = (b: string): boolean => a === b || (a.length >= 6 && (a.startsWith(b) || b.startsWith(a)) && Math.abs(a.length - b.length) <= 3);
  const meant = known.find((candidate) => near(candidate.toLowerCase()));
  throw new TypeError(`${PREFIX} options.${name} is not an option${meant ? `: did you mean ${meant}?` : ` of ${strategy}`}`);
}

/** Object.prototype of any realm (it owns `isPrototypeOf`), not a null-prototype object of the app's. */
const isObjectPrototype = (object: object): boolean => Object.hasOwn(object, 'isPrototypeOf');

/** An options object's names: its own enumerable ones, and its prototypes' getters and fields up to Object.prototype (of any realm). */
function optionNames(input: object): string[] {
  const names = new Set(Object.keys(input));
  for (let proto = Reflect.getPrototypeOf(input); proto && !isObjectPrototype(proto); proto = Reflect.getPrototypeOf(proto)) {
    const own = Object.entries(Object.getOwnPropertyDescriptors(proto));
    for (const [name, { value }] of own) if (name !== 'constructor' && typeof value !== 'function') names.add(name);
  }
  return [...names];
}

/** The texts of an option's value (a string, a list's, a plain object's such as headers), each as given and percent-decoded once and twice. */
function readings(value: unknown): string[] {
  const proto = isJsonObject(value) ? Reflect.getPrototypeOf(value) : undefined;
  const plain = proto === null || (proto !== undefined && isObjectPrototype(proto));
  const texts = (plain ? Object.values(value as object) : [value]).flat().filter((text): text is string => typeof text === 'string');
  const decoded = (text: string): string => attempt(() => decodeURIComponent(text)) ?? text;
  return texts.flatMap((text) => [text, decoded(text), decoded(decoded(text))]);
}
