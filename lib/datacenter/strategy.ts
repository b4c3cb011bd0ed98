import { accessAnswer, apiError, BitbucketResponseError, type Get, jsonBody, parseFailure } from '../core/errors';
import type { HttpResponse } from '../core/http';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { httpURL, isJsonObject, type JsonObject, member, optionalString, parseObject } from '../core/json';
import { gateURL, resolveDataCenterOptions } from './options';
import type {
  DataCenterProfile, DataCenterStrategyOptions, DataCenterStrategyOptionsWithRequest, DataCenterVerifyFunction, DataCenterVerifyFunctionWithParams,
  DataCenterVerifyFunctionWithRequest, DataCenterVerifyFunctionWithRequestAndParams, DataCenterVerifyFunctionWithRequestAndTokenParams,
  DataCenterVerifyFunctionWithTokenParams,
} from './types';

/** A username as the whoami servlet gives it: one line, no markup (not a login page). */
const USERNAME = /^[^\s<>]{1,255}$/;
const CHECKING = 'Checking access to a Data Center project or repository';

/**
 * Passport strategy for signing in with Bitbucket Data Center (OAuth 2.0, an incoming application link), named `'bitbucket-datacenter'`.
 *
 * After the code exchange it asks the instance who signed in (the whoami servlet), then that user by slug (or, when the slug
 * is not the username, through `users?filter=`), and checks the optional project and repository gate at the same time.
 *
 * @example
 * ```ts
 * passport.use(new BitbucketDataCenterStrategy(
 *   { baseURL: 'https://bitbucket.example.com', clientID, clientSecret, callbackURL },
 *   async (accessToken, refreshToken, profile) => users.upsert(profile.id, profile),
 * ));
 * ```
 */
export class BitbucketDataCenterStrategy extends BitbucketStrategyBase<DataCenterProfile> {
  private readonly _settings: ReturnType<typeof resolveDataCenterOptions>['settings'];

  // The withTokenParams() forms come first, so that TypeScript infers their object's types.
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithTokenParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndTokenParams);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunction);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequest);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndParams);
  // Both are checked at run time: the options by resolveDataCenterOptions(), the function by the base class.
  constructor(options: unknown, verify: unknown) {
    const { common, settings, product } = resolveDataCenterOptions(options);
    super(common, product, verify);
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: DataCenterProfile; refusal?: Refusal }> {
    const get: Get = (url) => this._oauth2.apiGet(url, accessToken, login);
    const [profile, allowed] = await Promise.all([this.fetchUser(get), this.checkGate(get)]);
    if (profile._json['active'] === false) return { profile, refusal: { message: 'This Bitbucket Data Center account is deactivated.', reason: 'inactive' } };
    if (allowed) return { profile };
    return { profile, refusal: { message: 'Only users who can reach a permitted Bitbucket project or repository may sign in.', reason: 'access' } };
  }

  /** Who signed in (whoami), then that user: by slug, or by name when the slug differs. An answer about anyone else is an error. */
  private async fetchUser(get: Get): Promise<DataCenterProfile> {
    const { whoamiURL, usersURL, avatarSize, baseURL, trustEmail } = this._settings;
    const whoami = await get(whoamiURL);
    if (whoami.status !== 200) throw apiError('Asking Bitbucket Data Center who signed in', whoami);
    const username = signedIn(whoami);
    const bySlug = await get(`${usersURL}/${encodeURIComponent(username)}?avatarSize=${avatarSize}`);
    if (bySlug.status !== 200 && bySlug.status !== 404) throw apiError('Fetching the Data Center user', bySlug);
    const json = bySlug.status === 200 ? userJson(bySlug.body) : undefined;
    if (json && sameName(json, username)) return parseDataCenterUser(json, bySlug.body, baseURL, trustEmail);
    // NOTE: a user's slug is not always the username (names that are not URL-safe get another slug), and a user with this slug
    // may be someone else: then the user is found by name.
    const search = await get(`${usersURL}?${new URLSearchParams({ filter: username, limit: '100', avatarSize: String(avatarSize) })}`);
    if (search.status !== 200) throw apiError('Finding the Data Center user', search);
    const found = findUser(search.body, username);
    if (!found) throw new BitbucketResponseError('Failed to find the Data Center user: no user has the name whoami gave');
    return parseDataCenterUser(found, JSON.stringify(found), baseURL, trustEmail);
  }

  /** True when there is no gate, or the user reaches at least one gated project or repository with their own token. */
  private async checkGate(get: Get): Promise<boolean> {
    const { gate, baseURL } = this._settings;
    const answers = await Promise.all(gate.map((url) => accessAnswer(get(url), CHECKING, (body) => isAnswerFor(body, baseURL, url), [401, 403, 404])));
    return gate.length === 0 || answers.includes(true);
  }
}

/**
 * Whether a 200 is the project (`key`) or repository (`slug` and `project.key`) at `url`: any other 200 (a single sign-on page,
 * `{}`, another project) did not answer the question, an error. NOTE: Bitbucket matches project keys (upper-case) and
 * repository slugs (lower-case) without regard to case, so the comparison ignores case too.
 */
function isAnswerFor(body: string, baseURL: string, url: string): true {
  const json = parseObject(body);
  const slug = optionalString(json, 'slug');
  const key = slug === undefined ? optionalString(json, 'key') : optionalString(member(json, 'project'), 'key');
  if (key !== undefined && gateURL(baseURL, key, slug).toLowerCase() === url.toLowerCase()) return true;
  throw new BitbucketResponseError(`${CHECKING}: Bitbucket answered 200, but not with the project or repository asked for`);
}

/**
 * The username the whoami servlet answered: its body, or its `X-AUSERNAME` header (some instances answer an empty body, observed
 * on 8.19). It answers 200 even when the token is not accepted, with nothing in either: a failure, never an anonymous login. When
 * both name someone, they must name the same user. A name a URL would read as a path is refused before any request is built.
 */
function signedIn(response: HttpResponse): string {
  const body = response.body.trim();
  const header = response.headers['x-ausername'];
  const raw = typeof header === 'string' ? header.trim() : '';
  const fromHeader = raw === '' ? undefined : decoded(raw);
  const failure = (problem: string): BitbucketResponseError => new BitbucketResponseError(`Asking Bitbucket Data Center who signed in: ${problem}`);
  if (body !== '' && fromHeader !== undefined && fromHeader !== body) throw failure('its body and its X-AUSERNAME header name different users');
  const name = body || fromHeader;
  if (!name || !USERNAME.test(name)) throw failure('it named no user (the token may not be accepted)');
  if (isPathStep(name)) throw failure('it named a user that reads as a path (".", "..", "/" or "\\")');
  return name;
}

/** `decodeURIComponent`, or null for text that is not percent-encoded UTF-8. */
function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** True for `.`, `..`, anything with `/` or `\`, and any percent-encoding of those; still decoding after five rounds is refused too. */
function isPathStep(name: string, rounds = 4): boolean {
  if (name === '.' || name === '..' || /[/\\]/.test(name)) return true;
  const next = decoded(name);
  return next !== null && next !== name && (rounds === 0 || isPathStep(next, rounds - 1));
}

/** The user's JSON, from a user request's body, or one entry of a `users?filter=` page. */
export function userJson(body: string): JsonObject {
  return jsonBody(body, 'the Data Center user');
}

/** Finds the user named `username` on a `users?filter=` page: an exact `name`, else one that differs only in case. */
export function findUser(body: string, username: string): JsonObject | undefined {
  const values = member(userJson(body), 'values');
  const users = Array.isArray(values) ? values.filter(isJsonObject) : [];
  return users.find((u) => u['name'] === username) ?? users.find((u) => sameName(u, username));
}

/**
 * Whether the user JSON is of the user named `username`. NOTE: Bitbucket's usernames are unique regardless of case, and whoami
 * may not spell one as the directory does, so the names are compared ignoring case.
 */
export function sameName(json: JsonObject, username: string): boolean {
  return optionalString(json, 'name')?.toLowerCase() === username.toLowerCase();
}

/** Builds the profile from Data Center's user JSON (`/rest/api/latest/users/{slug}`); a `BitbucketResponseError` without the id or name. */
export function parseDataCenterUser(json: JsonObject, raw: string, baseURL: string, trustEmail: boolean): DataCenterProfile {
  const id = json['id'];
  const name = optionalString(json, 'name');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || !name) throw parseFailure('the Data Center user', 'it has no numeric id or no name');
  const email = optionalString(json, 'emailAddress');
  const avatar = absoluteAvatar(optionalString(json, 'avatarUrl'), baseURL);
  // Data Center nests its links as `links.self[0].href`.
  const self = member(member(json, 'links'), 'self');
  return {
    provider: 'bitbucket-datacenter',
    id: String(id),
    username: name,
    slug: optionalString(json, 'slug') || name,
    displayName: optionalString(json, 'displayName') || name,
    profileUrl: httpURL(optionalString(Array.isArray(self) ? self[0] : undefined, 'href')),
    photos: avatar ? [{ value: avatar }] : [],
    emails: email ? [{ value: email, primary: true, verified: trustEmail }] : [],
    _raw: raw,
    _json: json,
  };
}

/**
 * `avatarUrl` made absolute. NOTE: Data Center usually answers a relative URL (`/users/jdoe/avatar.png?s=64`), which on an
 * instance with a context path may already start with it: never doubled nor lost. Absolute http(s) ones (Gravatar) are kept;
 * any other scheme (`javascript:`, `data:`) is dropped.
 */
export function absoluteAvatar(avatarUrl: string | undefined, baseURL: string): string | undefined {
  if (!avatarUrl) return undefined;
  if (/^https?:\/\//i.test(avatarUrl)) return httpURL(avatarUrl);
  const { origin, pathname } = new URL(baseURL);
  const contextPath = pathname.replace(/\/$/, '');
  if (avatarUrl.startsWith('/')) {
    return avatarUrl === contextPath || avatarUrl.startsWith(`${contextPath}/`) ? `${origin}${avatarUrl}` : `${origin}${contextPath}${avatarUrl}`;
  }
  return URL.canParse(avatarUrl, `${baseURL}/`) ? httpURL(new URL(avatarUrl, `${baseURL}/`).href) : undefined;
}
