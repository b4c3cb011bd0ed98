import { accessAnswer, apiError, BitbucketResponseError, type Get, jsonBody, parseFailure } from '../core/errors';
import type { HttpResponse } from '../core/http';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { attempt, httpURL, inRange, isJsonObject, type JsonObject, member, optionalString, parseObject } from '../core/json';
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
 * Passport strategy `'bitbucket-datacenter'` for Bitbucket Data Center (OAuth 2.0, an incoming application link), with an optional gate.
 * @example
 * ```ts
 * passport.use(new BitbucketDataCenterStrategy({ baseURL: 'https://bitbucket.example.com', clientID, clientSecret, callbackURL },
 *   async (accessToken, refreshToken, profile) => users.upsert(profile.id, profile)));
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
  constructor(options: unknown, verify: unknown) {
    const { common, settings, product } = resolveDataCenterOptions(options);
    super(common, product, verify);
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: DataCenterProfile; refusal?: Refusal }> {
    const { gate, baseURL } = this._settings;
    const get: Get = (url) => this._oauth2.apiGet(url, accessToken, login);
    const [profile, answers] = await Promise.all([
      this.fetchUser(get),
      Promise.all(gate.map((url) => accessAnswer(get(url), CHECKING, (body) => isAnswerFor(body, baseURL, url), [401, 403, 404]))),
    ]);
    if (profile._json['active'] === false) return { profile, refusal: { message: 'This Bitbucket Data Center account is deactivated.', reason: 'inactive' } };
    if (gate.length === 0 || answers.includes(true)) return { profile };
    return { profile, refusal: { message: 'Only users who can reach a permitted Bitbucket project or repository may sign in.', reason: 'access' } };
  }

  /** Whoami's user by slug, else by name (NOTE: a name that is not URL-safe gets another slug, and that slug may be another user's). */
  private async fetchUser(get: Get): Promise<DataCenterProfile> {
    const { whoamiURL, usersURL, avatarSize, baseURL, trustEmail } = this._settings;
    const username = signedIn(await get(whoamiURL));
    const slugURL = `${usersURL}/${encodeURIComponent(username)}?avatarSize=${avatarSize}`;
    const bySlug = await accessAnswer(get(slugURL), 'Fetching the Data Center user', (body) => ({ json: userJson(body), body }), [404]);
    if (bySlug && sameName(bySlug.json, username)) return parseDataCenterUser(bySlug.json, bySlug.body, baseURL, trustEmail);
    // NOTE: the filter matches every name, display name and email containing it: the user may be on a later page (ten are read).
    let found: JsonObject | undefined;
    for (let start: unknown = 0, pages = 0; !found && typeof start === 'number' && pages < 10; pages += 1) {
      const search = `${usersURL}?${new URLSearchParams({ filter: username, start: String(start), limit: '100', avatarSize: String(avatarSize) })}`;
      const page = await accessAnswer(get(search), 'Finding the Data Center user', userJson, []);
      found = page && findUser(page, username);
      start = page?.['isLastPage'] === false && inRange(page['nextPageStart'], start + 1, 2 ** 31 - 1) ? page['nextPageStart'] : undefined;
    }
    if (!found) throw new BitbucketResponseError('Failed to find the Data Center user: no user has the name whoami gave');
    return parseDataCenterUser(found, JSON.stringify(found), baseURL, trustEmail);
  }
}

/** True when a 200 is the project (`key`) or repository (`slug`, `project.key`) at `url`; any other 200 (an SSO page, `{}`) is an error. */
function isAnswerFor(body: string, baseURL: string, url: string): true {
  const json = parseObject(body);
  const slug = optionalString(json, 'slug');
  const key = slug === undefined ? optionalString(json, 'key') : optionalString(member(json, 'project'), 'key');
  // NOTE: Bitbucket matches project keys and repository slugs ignoring case.
  if (key !== undefined && gateURL(baseURL, key, slug).toLowerCase() === url.toLowerCase()) return true;
  throw new BitbucketResponseError(`${CHECKING}: Bitbucket answered 200, but not with the project or repository asked for`);
}

/** The username a whoami answer gave in its body or `X-AUSERNAME` header (if both, the same one), never a name that reads as a path. */
function signedIn(response: HttpResponse): string {
  if (response.status !== 200) throw apiError('Asking Bitbucket Data Center who signed in', response);
  // NOTE: some instances (8.19) answer an empty body; an unaccepted token gets a 200 naming no one: a failure, not an anonymous login.
  const body = response.body.trim();
  const raw = optionalString(response.headers, 'x-ausername')?.trim() ?? '';
  const fromHeader = raw === '' ? undefined : decoded(raw);
  const failure = (problem: string): BitbucketResponseError => new BitbucketResponseError(`Asking Bitbucket Data Center who signed in: ${problem}`);
  if (body !== '' && fromHeader !== undefined && fromHeader !== body) throw failure('its body and its X-AUSERNAME header name different users');
  const name = body || fromHeader;
  if (!name || !USERNAME.test(name)) throw failure('it named no user (the token may not be accepted)');
  if (isPathStep(name)) throw failure('it named a user that reads as a path (".", "..", "/" or "\\")');
  return name;
}

/** `decodeURIComponent`, or null for text that is not percent-encoded UTF-8. */
const decoded = (text: string): string | null => attempt(() => decodeURIComponent(text)) ?? null;

/** True for `.`, `..`, anything with `/` or `\`, and any percent-encoding of those; still decoding after five rounds is refused too. */
function isPathStep(name: string, rounds = 4): boolean {
  if (name === '.' || name === '..' || /[/\\]/.test(name)) return true;
  const next = decoded(name);
  return next !== null && next !== name && (rounds === 0 || isPathStep(next, rounds - 1));
}

/** The user's JSON, from a user request's body, or one entry of a `users?filter=` page. */
export const userJson = (body: string): JsonObject => jsonBody(body, 'the Data Center user');

/** Finds the user named `username` on a `users?filter=` page: an exact `name`, else one that differs only in case. */
export function findUser(page: JsonObject, username: string): JsonObject | undefined {
  const values = page['values'];
  const users = Array.isArray(values) ? values.filter(isJsonObject) : [];
  return users.find((u) => u['name'] === username) ?? users.find((u) => sameName(u, username));
}

/** Whether the user JSON is of `username`. NOTE: usernames are unique ignoring case, and whoami may spell one otherwise than the directory. */
export const sameName = (json: JsonObject, username: string): boolean => optionalString(json, 'name')?.toLowerCase() === username.toLowerCase();

/** Builds the profile from Data Center's user JSON (`/rest/api/latest/users/{slug}`); a `BitbucketResponseError` without the id or name. */
export function parseDataCenterUser(json: JsonObject, raw: string, baseURL: string, trustEmail: boolean): DataCenterProfile {
  const id = json['id'];
  const name = optionalString(json, 'name');
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || !name) throw parseFailure('the Data Center user', 'it has no numeric id or no name');
  // Only an account Bitbucket says is active signs in: a missing or odd flag is not read as active.
  if (typeof json['active'] !== 'boolean') throw parseFailure('the Data Center user', 'it does not say whether the account is active');
  const email = optionalString(json, 'emailAddress');
  const avatar = absoluteAvatar(optionalString(json, 'avatarUrl'), baseURL);
  const self = member(member(json, 'links'), 'self');
  return {
    provider: 'bitbucket-datacenter', id: String(id), username: name, slug: optionalString(json, 'slug') || name,
    displayName: optionalString(json, 'displayName') || name, profileUrl: httpURL(optionalString(Array.isArray(self) ? self[0] : undefined, 'href')),
    photos: avatar ? [{ value: avatar }] : [], emails: email ? [{ value: email, primary: true, verified: trustEmail }] : [],
    _raw: raw, _json: json,
  };
}

/** `avatarUrl` made absolute, http(s) only. */
export function absoluteAvatar(avatarUrl: string | undefined, baseURL: string): string | undefined {
  if (!avatarUrl) return undefined;
  if (/^https?:\/\//i.test(avatarUrl)) return httpURL(avatarUrl);
  const { origin, pathname } = new URL(baseURL);
  const contextPath = pathname.replace(/\/$/, '');
  // NOTE: Data Center usually answers a relative URL (`/users/jdoe/avatar.png?s=64`), which may already start with the context path.
  const hasContextPath = avatarUrl === contextPath || avatarUrl.startsWith(`${contextPath}/`);
  if (avatarUrl.startsWith('/')) return `${origin}${hasContextPath ? '' : contextPath}${avatarUrl}`;
  return URL.canParse(avatarUrl, `${baseURL}/`) ? httpURL(new URL(avatarUrl, `${baseURL}/`).href) : undefined;
}
