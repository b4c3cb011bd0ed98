import type { Request } from 'express';
import { InternalOAuthError, Strategy as OAuth2Strategy, type StrategyOptions as OAuth2StrategyOptions, TokenError } from 'passport-oauth2';
import { BitbucketError } from './errors';
import { orderEmails, parseEmailsPage, type RawEmail } from './emails';
import { Cancellation, type HttpResponse, settle } from './http';
import { isJsonObject, parseJson } from './json';
import { BitbucketOAuth2 } from './oauth2';
import { resolveOptions } from './options';
import { fetchAllPages, pageError, pagedEndpoint, type PagedEndpoint } from './pages';
import { parseProfile } from './profile';
import type {
  BitbucketWorkspace,
  Profile,
  RefreshedTokens,
  StrategyOptions,
  StrategyOptionsWithRequest,
  VerifyFunction,
  VerifyFunctionWithParams,
  VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams,
  TokenParams,
} from './types';
import { adaptVerify } from './verify';
import { isPermitted, membershipQuery, parseMembershipsPage } from './workspaces';

export { MAX_PAGES as MAX_EMAIL_PAGES } from './pages';

type LoadUserProfile = {
  _loadUserProfile(this: unknown, accessToken: string, done: (err?: unknown, profile?: Profile) => void): void;
};

/** Passport gives each login its own copy of the strategy, with `fail()` attached. */
function failLogin(login: object, challenge: object, status: number): void {
  (login as { fail(challenge: object, status: number): void }).fail(challenge, status);
}

/** Bitbucket's scope names and the boxes that grant them on the OAuth consumer. */
const PERMISSIONS: Record<string, string> = { account: 'Account: Read', email: 'Account: Email' };

/**
 * For Bitbucket's missing-scope 403 (`detail.required`), which box to tick on the consumer.
 */
function permissionHint(response: HttpResponse): string | undefined {
  if (response.status !== 403) return undefined;
  const parsed = parseJson(response.body);
  const error = parsed.ok && isJsonObject(parsed.value) ? parsed.value['error'] : undefined;
  const detail = isJsonObject(error) ? error['detail'] : undefined;
  const required = isJsonObject(detail) && Array.isArray(detail['required']) ? detail['required'] : ['account'];
  const boxes = required.map((scope) => PERMISSIONS[String(scope)] ?? String(scope));
  return `tick the ${boxes.map((b) => `"${b}"`).join(' and ')} permission on the Bitbucket OAuth consumer (Workspace settings → OAuth consumers → Edit)`;
}

/**
 * Passport strategy for signing in with Bitbucket Cloud (OAuth 2.0).
 *
 * After the code exchange it fetches `/2.0/user` and `/2.0/user/emails` concurrently and
 * hands the verify function a {@link Profile} whose `emails` hold confirmed addresses, the
 * primary first.
 *
 * @example
 * ```ts
 * passport.use(new BitbucketStrategy(
 *   { clientID: process.env.BITBUCKET_KEY!, clientSecret: process.env.BITBUCKET_SECRET!,
 *     callbackURL: 'https://app.example.com/auth/bitbucket/callback' },
 *   async (accessToken, refreshToken, profile) => users.upsert(profile.id, profile),
 * ));
 * ```
 */
export class Strategy extends OAuth2Strategy {
  protected declare _oauth2: BitbucketOAuth2;
  private readonly _userProfileURL: string;
  private readonly _emailsEndpoint: PagedEndpoint;
  private readonly _workspacesEndpoint: PagedEndpoint;
  private readonly _skipEmails: boolean;
  private readonly _includeUnverifiedEmails: boolean;
  private readonly _workspaces: readonly string[] | undefined;
  private readonly _minimumWorkspaceRole: 'member' | 'owner';
  private readonly _fetchWorkspaces: boolean;

  constructor(options: StrategyOptions, verify: VerifyFunction);
  constructor(options: StrategyOptions, verify: VerifyFunctionWithParams);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequest);
  constructor(options: StrategyOptionsWithRequest, verify: VerifyFunctionWithRequestAndParams);
  constructor(
    options: StrategyOptions | StrategyOptionsWithRequest,
    verify:
      | VerifyFunction
      | VerifyFunctionWithParams
      | VerifyFunctionWithRequest
      | VerifyFunctionWithRequestAndParams,
  ) {
    const resolved = resolveOptions(options);
    const base = {
      ...resolved.passThrough,
      clientID: resolved.clientID,
      // The secret is kept by BitbucketOAuth2 below, off every own property.
      clientSecret: '',
      authorizationURL: resolved.authorizationURL,
      tokenURL: resolved.tokenURL,
      state: resolved.state,
      passReqToCallback: resolved.passReqToCallback,
    };
    super(base as OAuth2StrategyOptions, adaptVerify(verify, resolved.passReqToCallback));
    this.name = 'bitbucket';
    this._oauth2 = new BitbucketOAuth2(
      resolved.clientID,
      resolved.clientSecret,
      '',
      resolved.authorizationURL,
      resolved.tokenURL,
      resolved.headers,
      { timeout: resolved.timeout },
    );
    this._userProfileURL = resolved.userProfileURL;
    this._emailsEndpoint = pagedEndpoint(resolved.userEmailsURL);
    // Filtered server-side when only some workspaces matter; checked again here regardless.
    this._workspacesEndpoint = pagedEndpoint(
      resolved.userWorkspacesURL,
      resolved.workspaces && !resolved.fetchWorkspaces ? { q: membershipQuery(resolved.workspaces) } : {},
    );
    this._skipEmails = resolved.skipEmails;
    this._includeUnverifiedEmails = resolved.includeUnverifiedEmails;
    this._workspaces = resolved.workspaces;
    this._minimumWorkspaceRole = resolved.minimumWorkspaceRole;
    this._fetchWorkspaces = resolved.fetchWorkspaces;
  }

  /**
   * Exchanges a refresh token for new tokens. Bitbucket rotates refresh tokens: store the
   * returned `refreshToken` every time. No `scope` is sent (it would narrow the token).
   * Rejects with passport-oauth2's `TokenError` (`code: 'invalid_grant'` for a dead refresh
   * token) or a `BitbucketError`.
   *
   * @example
   * ```ts
   * const tokens = await strategy.refresh(user.refreshToken);
   * await db.saveTokens(user.id, tokens.accessToken, tokens.refreshToken, tokens.expiresAt);
   * ```
   */
  refresh(refreshToken: string): Promise<RefreshedTokens> {
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      return Promise.reject(new TypeError('passport-bitbucket-cloud: refresh() needs the refresh token'));
    }
    return new Promise<RefreshedTokens>((resolve, reject) => {
      this._oauth2.getOAuthAccessToken(refreshToken, { grant_type: 'refresh_token' }, (error, accessToken, newRefreshToken, results) => {
        if (error || !accessToken) return reject(error);
        const params = (results ?? {}) as TokenParams;
        const expiresIn = typeof params.expires_in === 'number' ? params.expires_in : undefined;
        resolve({
          accessToken,
          refreshToken: newRefreshToken || refreshToken,
          expiresIn,
          expiresAt: expiresIn === undefined ? undefined : new Date(Date.now() + expiresIn * 1000),
          scope: typeof params.scope === 'string' ? params.scope : undefined,
          params,
        });
      });
    });
  }

  /**
   * Refuses a callback whose OAuth parameters are not single strings (`?code=a&code=b`,
   * `?state[x]=1`): a clean 400 failure instead of a confused token request.
   */
  override authenticate(req: Request, options?: object): void {
    const query: unknown = req.query;
    if (isJsonObject(query)) {
      for (const key of ['code', 'state', 'error', 'error_description', 'error_uri']) {
        const value = query[key];
        if (value !== undefined && typeof value !== 'string') {
          failLogin(this, { message: 'Malformed authorization response from Bitbucket.' }, 400);
          return;
        }
      }
    }
    super.authenticate(req, options);
  }

  /**
   * Loads the profile: `/2.0/user` and `/2.0/user/emails` concurrently (one round trip after
   * the token), then the emails' further pages, if any.
   */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: Profile) => void): void {
    settle(this.loadProfile(accessToken), done);
  }

  private async loadProfile(accessToken: string): Promise<Profile> {
    const cancel = new Cancellation();
    const user = this.fetchUser(accessToken, cancel);
    const emails = this._skipEmails ? Promise.resolve([]) : this.fetchEmails(accessToken, cancel);
    const workspaces = this._workspaces || this._fetchWorkspaces ? this.fetchWorkspaces(accessToken, cancel) : undefined;
    // If one request fails, the others are cancelled rather than left running.
    for (const pending of [user, emails, workspaces]) pending?.catch(() => cancel.cancel());
    const [profile, rawEmails, memberships] = await Promise.all([user, emails, workspaces]);
    profile.emails = orderEmails(rawEmails, this._includeUnverifiedEmails);
    if (memberships) profile.workspaces = memberships;
    return profile;
  }

  private async fetchUser(accessToken: string, cancel: Cancellation): Promise<Profile> {
    const response = await this._oauth2.apiGet(this._userProfileURL, accessToken, cancel);
    if (response.status !== 200) throw pageError('user profile', response, permissionHint(response));
    return parseProfile(response.body);
  }

  private fetchEmails(accessToken: string, cancel: Cancellation): Promise<RawEmail[]> {
    return fetchAllPages({
      what: 'user emails',
      endpoint: this._emailsEndpoint,
      get: (url) => this._oauth2.apiGet(url, accessToken, cancel),
      parse: parseEmailsPage,
      // NOTE: Bitbucket answers 403 ("Your credentials lack one or more required privilege
      // scopes") when the consumer lacks the Account: Email permission. The user can still
      // sign in; the profile just has no addresses.
      onError: (response, firstPage) => (response.status === 403 && firstPage ? [] : pageError('user emails', response)),
    });
  }

  private fetchWorkspaces(accessToken: string, cancel: Cancellation): Promise<BitbucketWorkspace[]> {
    return fetchAllPages({
      what: 'workspace memberships',
      endpoint: this._workspacesEndpoint,
      get: (page) => this._oauth2.apiGet(page, accessToken, cancel),
      parse: parseMembershipsPage,
      onError: (response) => pageError('workspace memberships', response, permissionHint(response)),
    });
  }

  /**
   * passport-oauth2 calls this with the login's own `fail`, so the workspace rule can refuse a
   * user cleanly (a failure, not an error) before the verify function is called.
   */
  protected _loadUserProfile(accessToken: string, done: (err?: unknown, profile?: Profile) => void): void {
    const allowed = this._workspaces;
    const load = (OAuth2Strategy.prototype as unknown as LoadUserProfile)._loadUserProfile;
    load.call(this, accessToken, (err, profile) => {
      if (err || !allowed || !profile) return done(err, profile);
      if (isPermitted(profile.workspaces ?? [], allowed, this._minimumWorkspaceRole)) return done(null, profile);
      failLogin(
        this,
        {
          message:
            this._minimumWorkspaceRole === 'owner'
              ? 'Only owners of a permitted Bitbucket workspace may sign in.'
              : 'Only members of a permitted Bitbucket workspace may sign in.',
          reason: 'workspace',
        },
        403,
      );
    });
  }

  /** Token errors and this package's own errors reach the app as they are, not wrapped. */
  protected _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof TokenError || err instanceof BitbucketError) return err;
    return new InternalOAuthError(message, err);
  }
}
