import { apiError } from '../core/answers';
import { BitbucketResponseError } from '../core/errors';
import type { Cancellation, HttpResponse } from '../core/http';
import { BitbucketStrategyBase, type Refusal } from '../core/strategy';
import { resolveDataCenterOptions } from './options';
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
  private readonly _whoamiURL: string;
  private readonly _usersURL: string;
  private readonly _baseURL: string;
  private readonly _avatarSize: number;
  private readonly _trustEmail: boolean;
  private readonly _gate: readonly string[];

  // The withTokenParams() forms come first, so that TypeScript infers their object's types.
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithTokenParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndTokenParams);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunction);
  constructor(options: DataCenterStrategyOptions, verify: DataCenterVerifyFunctionWithParams);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequest);
  constructor(options: DataCenterStrategyOptionsWithRequest, verify: DataCenterVerifyFunctionWithRequestAndParams);
  constructor(
    options: DataCenterStrategyOptions | DataCenterStrategyOptionsWithRequest,
    verify:
      | DataCenterVerifyFunction
      | DataCenterVerifyFunctionWithParams
      | DataCenterVerifyFunctionWithRequest
      | DataCenterVerifyFunctionWithRequestAndParams
      | DataCenterVerifyFunctionWithTokenParams
      | DataCenterVerifyFunctionWithRequestAndTokenParams,
  ) {
    const resolved = resolveDataCenterOptions(options);
    super(
      resolved,
      {
        name: 'bitbucket-datacenter',
        authorizationURL: resolved.authorizationURL,
        tokenURL: resolved.tokenURL,
        // NOTE: Data Center's token endpoint takes the client's credentials in the form body
        // (client_secret_post); HTTP Basic is not documented.
        clientAuthentication: 'body',
        // whoami and the gate go out at once; the user request follows whoami.
        firstRequests: [resolved.whoamiURL, ...resolved.gate],
        passportOptions: { scope: resolved.scope, scopeSeparator: ' ' },
      },
      verify,
    );
    this._whoamiURL = resolved.whoamiURL;
    this._usersURL = resolved.usersURL;
    this._baseURL = resolved.baseURL;
    this._avatarSize = resolved.avatarSize;
    this._trustEmail = resolved.trustEmail;
    this._gate = resolved.gate;
  }

  protected async loadProfileParts(accessToken: string, cancel: Cancellation): Promise<{ profile: DataCenterProfile; refusal: Refusal | undefined }> {
    const user = this.fetchUser(accessToken, cancel);
    const gate = this._gate.length > 0 ? this.checkGate(accessToken, cancel) : undefined;
    // If one request fails, the others are cancelled rather than left running.
    for (const pending of [user, gate]) pending?.catch(() => cancel.cancel(new Error('request aborted')));
    const [profile, allowed] = await Promise.all([user, gate]);
    return { profile, refusal: refusal(profile, allowed) };
  }

  /** Who signed in (whoami), then that user: by slug, or by name when the slug differs. */
  private async fetchUser(accessToken: string, cancel: Cancellation): Promise<DataCenterProfile> {
    const whoami = await this._oauth2.apiGet(this._whoamiURL, accessToken, cancel);
    if (whoami.status !== 200) throw apiError('Asking Bitbucket Data Center who signed in', whoami);
    const username = signedIn(whoami);
    const avatar = `avatarSize=${this._avatarSize}`;
    const bySlug = await this._oauth2.apiGet(`${this._usersURL}/${encodeURIComponent(username)}?${avatar}`, accessToken, cancel);
    if (bySlug.status === 200) return parseDataCenterUser(userJson(bySlug.body), bySlug.body, this._baseURL, this._trustEmail);
    if (bySlug.status !== 404) throw apiError('Fetching the Data Center user', bySlug);
    // NOTE: a user's slug is not always the username (names with characters that are not
    // URL-safe get another slug): then the user is found by name.
    const query = new URLSearchParams({ filter: username, limit: '100', avatarSize: String(this._avatarSize) });
    const search = await this._oauth2.apiGet(`${this._usersURL}?${query}`, accessToken, cancel);
    if (search.status !== 200) throw apiError('Finding the Data Center user', search);
    const json = findUser(search.body, username);
    if (!json) throw new BitbucketResponseError('Failed to find the Data Center user: no user has the name whoami gave');
    return parseDataCenterUser(json, JSON.stringify(json), this._baseURL, this._trustEmail);
  }

  /** True when the user reaches at least one gated project or repository with their own token. */
  private async checkGate(accessToken: string, cancel: Cancellation): Promise<boolean> {
    const answers = await Promise.all(
      this._gate.map(async (url) => {
        const response = await this._oauth2.apiGet(url, accessToken, cancel);
        if (response.status === 200) return true;
        if (response.status === 401 || response.status === 403 || response.status === 404) return false;
        throw apiError('Checking access to a Data Center project or repository', response);
      }),
    );
    return answers.some(Boolean);
  }

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
 * not accepted, with nothing in either: that is a failure, never an anonymous login.
 */
function signedIn(response: HttpResponse): string {
  const body = response.body.trim();
  if (USERNAME.test(body)) return body;
  const header = response.headers['x-ausername'];
  let name = typeof header === 'string' ? header.trim() : '';
  try {
    name = decodeURIComponent(name);
  } catch {
    name = '';
  }
  if (USERNAME.test(name)) return name;
  throw new BitbucketResponseError('Asking Bitbucket Data Center who signed in: it named no user (the token may not be accepted)');
}
