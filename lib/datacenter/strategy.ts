import { apiError, BitbucketResponseError } from '../core/errors';
import type { HttpResponse } from '../core/http';
import type { Login } from '../core/oauth2';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { type JsonObject, member, optionalString, parseObject } from '../core/json';
import { type DataCenterSettings, gateURL, resolveDataCenterOptions } from './options';
import { findUser, parseDataCenterUser, userJson } from './profile';
import type {
  DataCenterProfile,
  DataCenterStrategyOptions,
  DataCenterStrategyOptionsWithRequest,
  DataCenterVerifyFunction,
  DataCenterVerifyFunctionWithParams,
  DataCenterVerifyFunctionWithRequest,
  DataCenterVerifyFunctionWithRequestAndParams,
  DataCenterVerifyFunctionWithRequestAndTokenParams,
  DataCenterVerifyFunctionWithTokenParams,
} from './types';

/** A username as the whoami servlet gives it: one line, no markup (not a login page). */
const USERNAME = /^[^\s<>]{1,255}$/;

/**
 * Passport strategy for signing in with Bitbucket Data Center (OAuth 2.0, an incoming
 * application link), named `'bitbucket-datacenter'`.
 *
 * After the code exchange it asks the instance who signed in (the whoami servlet), then that
 * user by slug (or, when the slug is not the username, through `users?filter=`), and checks
 * the optional project and repository gate at the same time.
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
  private readonly _settings: DataCenterSettings;

  // The withTokenParams() forms come first, so that TypeScript infers their object's types.
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithTokenParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndTokenParams);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunction);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequest);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndParams);
  // Both are checked at run time: the options by resolveDataCenterOptions(), the function by the base class.
  constructor(options: unknown, verify: unknown) {
    const { common, settings } = resolveDataCenterOptions(options);
    const { authorizationURL, tokenURL, scope } = settings;
    super(
      common,
      {
        name: 'bitbucket-datacenter',
        authorizationURL,
        tokenURL,
        // NOTE: Data Center's token endpoint takes the client's credentials in the form body
        // (client_secret_post); HTTP Basic is not documented.
        clientAuthentication: 'body',
        passportOptions: { scope, scopeSeparator: ' ' },
      },
      verify,
    );
    this._settings = settings;
  }

  protected async loadProfileParts(accessToken: string, login: Login): Promise<{ profile: DataCenterProfile; refusal: Refusal | undefined }> {
    const user = this.fetchUser(accessToken, login);
    const gate = this._settings.gate.length > 0 ? this.checkGate(accessToken, login) : undefined;
    const [profile, allowed] = await Promise.all([user, gate]);
    return { profile, refusal: refusal(profile, allowed) };
  }

  /**
   * Who signed in (whoami), then that user: by slug, or by name when the slug differs. The
   * profile is always of the user whoami named; an answer about anyone else is an error.
   */
  private async fetchUser(accessToken: string, login: Login): Promise<DataCenterProfile> {
    const { whoamiURL, usersURL, avatarSize, baseURL, trustEmail } = this._settings;
    const whoami = await this._oauth2.apiGet(whoamiURL, accessToken, login);
    if (whoami.status !== 200) throw apiError('Asking Bitbucket Data Center who signed in', whoami);
    const username = signedIn(whoami);
    const bySlug = await this._oauth2.apiGet(`${usersURL}/${encodeURIComponent(username)}?avatarSize=${avatarSize}`, accessToken, login);
    if (bySlug.status === 200) {
      const json = userJson(bySlug.body);
      // A user whose slug is this username but whose name is another's is not the one who
      // signed in: then, as after a 404, the user is found by name.
      if (sameName(json, username)) return parseDataCenterUser(json, bySlug.body, baseURL, trustEmail);
    } else if (bySlug.status !== 404) {
      throw apiError('Fetching the Data Center user', bySlug);
    }
    // NOTE: a user's slug is not always the username (names with characters that are not
    // URL-safe get another slug): then the user is found by name.
    const query = new URLSearchParams({ filter: username, limit: '100', avatarSize: String(avatarSize) });
    const search = await this._oauth2.apiGet(`${usersURL}?${query}`, accessToken, login);
    if (search.status !== 200) throw apiError('Finding the Data Center user', search);
    const json = findUser(search.body, username);
    if (!json || !sameName(json, username)) throw new BitbucketResponseError('Failed to find the Data Center user: no user has the name whoami gave');
    return parseDataCenterUser(json, JSON.stringify(json), baseURL, trustEmail);
  }

  /**
   * True when the user reaches at least one gated project or repository with their own token.
   * A 200 permits only when it is the project or repository asked for; any other 200 (a
   * single sign-on page, `{}`, another project) is an error, as Bitbucket did not answer the
   * question.
   */
  private async checkGate(accessToken: string, login: Login): Promise<boolean> {
    const answers = await Promise.all(
      this._settings.gate.map(async (url) => {
        const response = await this._oauth2.apiGet(url, accessToken, login);
        if (response.status === 200) {
          // NOTE: Bitbucket matches project keys (upper-case) and repository slugs
          // (lower-case) without regard to case, so the comparison ignores case too.
          if (answeredURL(response.body, this._settings.baseURL)?.toLowerCase() === url.toLowerCase()) return true;
          throw new BitbucketResponseError(
            'Checking access to a Data Center project or repository: Bitbucket answered 200, but not with the project or repository asked for',
          );
        }
        if (response.status === 401 || response.status === 403 || response.status === 404) return false;
        throw apiError('Checking access to a Data Center project or repository', response);
      }),
    );
    return answers.some(Boolean);
  }
}

/** The gate URL of what a 200 describes: a repository (`slug` and `project.key`) or a project (`key`). */
function answeredURL(body: string, baseURL: string): string | undefined {
  const json = parseObject(body);
  const slug = optionalString(json, 'slug');
  const key = slug === undefined ? optionalString(json, 'key') : optionalString(member(json, 'project'), 'key');
  return key === undefined ? undefined : gateURL(baseURL, key, slug);
}

/**
 * Whether the user JSON is of the user named `username`. NOTE: Bitbucket's usernames are
 * unique regardless of case, and whoami may not spell one as the directory does (the
 * `filter=` fallback already matches that way), so the names are compared ignoring case.
 */
function sameName(json: JsonObject, username: string): boolean {
  return optionalString(json, 'name')?.toLowerCase() === username.toLowerCase();
}

/** A deactivated account, or one the gate did not let through (`allowed` false), may not sign in. */
function refusal(profile: DataCenterProfile, allowed: boolean | undefined): Refusal | undefined {
  if (profile._json['active'] === false) return { message: 'This Bitbucket Data Center account is deactivated.', reason: 'inactive' };
  if (allowed === false) return { message: 'Only users who can reach a permitted Bitbucket project or repository may sign in.', reason: 'access' };
  return undefined;
}

/**
 * The username the whoami servlet answered: its body, or its `X-AUSERNAME` header (some
 * instances answer an empty body, observed on 8.19). It answers 200 even when the token is
 * not accepted, with nothing in either: that is a failure, never an anonymous login. When
 * both name someone, they must name the same user. A name that a URL would read as a path
 * (`.`, `..`, with `/` or `\`, or percent-encoding one of those) is refused before any
 * request is built from it.
 */
function signedIn(response: HttpResponse): string {
  const body = response.body.trim();
  const header = response.headers['x-ausername'];
  const raw = typeof header === 'string' ? header.trim() : '';
  const fromHeader = raw === '' ? undefined : decoded(raw);
  if (body !== '' && fromHeader !== undefined && fromHeader !== body) {
    throw new BitbucketResponseError('Asking Bitbucket Data Center who signed in: its body and its X-AUSERNAME header name different users');
  }
  const name = body || fromHeader;
  if (name === undefined || name === null || !USERNAME.test(name)) {
    throw new BitbucketResponseError('Asking Bitbucket Data Center who signed in: it named no user (the token may not be accepted)');
  }
  if (isPathStep(name)) {
    throw new BitbucketResponseError('Asking Bitbucket Data Center who signed in: it named a user that reads as a path (".", "..", "/" or "\\")');
  }
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

/** True for `.`, `..`, anything with `/` or `\`, and any percent-encoding (even repeated) of those. */
function isPathStep(name: string): boolean {
  let form = name;
  for (let round = 0; round < 5; round += 1) {
    if (form === '.' || form === '..' || /[/\\]/.test(form)) return true;
    const next = decoded(form);
    if (next === null || next === form) return false;
    form = next;
  }
  return true; // still decoding after five rounds: refused rather than followed further
}
