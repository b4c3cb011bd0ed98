import { createHash } from 'node:crypto';
import { callbackify } from 'node:util';
import type { Request } from 'express';
import { InternalOAuthError, Strategy as OAuth2Strategy, type StrategyOptions as OAuth2StrategyOptions, TokenError } from 'passport-oauth2';
import { BitbucketError, BitbucketResponseError, BitbucketTimeoutError } from '../core/errors';
import { Cancellation } from '../core/http';
import { orderEmails, parseEmailsPage, type RawEmail } from './emails';
import { redact } from '../core/redact';
import { isJsonObject } from '../core/json';
import { ConnectionPool } from '../core/agent';
import { apiError, missingScopes } from '../core/answers';
import { BitbucketOAuth2, takeLogin } from '../core/oauth2';
import { LOGIN_TIMEOUTS } from '../core/options';
import { type MinimumWorkspaceRole, resolveOptions } from './options';
import { fetchAllPages, pagedEndpoint, type PagedEndpoint } from './pages';
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
import { adaptVerify } from '../core/verify';
import {
  isPermitted,
  mergeWorkspaces,
  parsePermission,
  parseWorkspacesPage,
  permissionURL,
} from './workspaces';

type LoadUserProfile = {
  _loadUserProfile(this: unknown, accessToken: string, done: (err?: unknown, profile?: Profile) => void): void;
};

/** Passport gives each login its own copy of the strategy, with `fail()` attached. */
function failLogin(login: object, challenge: object, status: number): void {
  (login as { fail(challenge: object, status: number): void }).fail(challenge, status);
}

/**
 * The states of callbacks this process has begun, each kept for ten minutes (a state the
 * session still holds after that is long stale) and at most 100,000 at once (the oldest go
 * first), as hashes, so that memory holds no value an attacker could use.
 */
class UsedStates {
  private readonly seen = new Map<string, number>();

  /** True the first time a state is seen within its lifetime. */
  claim(state: string): boolean {
    const now = Date.now();
    const key = createHash('sha256').update(state).digest('base64url');
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.delete(key);
    for (const [old, expiry] of this.seen) {
      if (expiry > now && this.seen.size < MAX_USED_STATES) break;
      this.seen.delete(old);
    }
    this.seen.set(key, now + USED_STATE_MS);
    return true;
  }
}
const USED_STATE_MS = 10 * 60_000;
const MAX_USED_STATES = 100_000;

/** The memberships the workspace rule is decided on, per loaded profile. */
const permitted = new WeakMap<Profile, readonly BitbucketWorkspace[]>();

const REFUSALS: Readonly<Record<MinimumWorkspaceRole, string>> = {
  member: 'Only members of a permitted Bitbucket workspace may sign in.',
  'create-project': 'Only members of a permitted Bitbucket workspace with the create-project role or higher may sign in.',
  owner: 'Only owners of a permitted Bitbucket workspace may sign in.',
};

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
  private readonly _permissionURLs: ReadonlyArray<readonly [slug: string, url: string]>;
  private readonly _skipEmails: boolean;
  private readonly _includeUnverifiedEmails: boolean;
  private readonly _workspaces: readonly string[] | undefined;
  private readonly _minimumWorkspaceRole: MinimumWorkspaceRole;
  private readonly _listWorkspaces: boolean;
  private readonly _usedStates = new UsedStates();
  private _pool: ConnectionPool | undefined;

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
      ...(resolved.pkce ? { pkce: resolved.pkce } : {}),
    };
    // passport-oauth2 takes pkce as true, 'S256' or 'plain'; its types know only the boolean.
    super(base as unknown as OAuth2StrategyOptions, adaptVerify(verify, resolved.passReqToCallback));
    this.name = 'bitbucket';
    this._oauth2 = new BitbucketOAuth2(
      resolved.clientID,
      resolved.clientSecret,
      '',
      resolved.authorizationURL,
      resolved.tokenURL,
      resolved.headers,
      { timeout: resolved.timeout, retries: resolved.retries },
    );
    if (resolved.agent) {
      this._oauth2.setAgent(resolved.agent);
    } else {
      this._pool = new ConnectionPool();
      // The requests the profile stage sends at once; none when it may be skipped.
      const first = !resolved.maySkipProfile
        ? [
            resolved.userProfileURL,
            ...(resolved.skipEmails ? [] : [resolved.userEmailsURL]),
            ...(resolved.workspaces ?? []).map((slug) => permissionURL(resolved.userWorkspacesURL, slug)),
            ...(resolved.fetchWorkspaces ? [resolved.userWorkspacesURL] : []),
          ]
        : [];
      this._oauth2.useConnections(this._pool, first);
    }
    this._userProfileURL = resolved.userProfileURL;
    this._emailsEndpoint = pagedEndpoint(resolved.userEmailsURL);
    this._workspacesEndpoint = pagedEndpoint(resolved.userWorkspacesURL);
    this._permissionURLs = (resolved.workspaces ?? []).map((slug) => [slug, permissionURL(resolved.userWorkspacesURL, slug)] as const);
    this._skipEmails = resolved.skipEmails;
    this._includeUnverifiedEmails = resolved.includeUnverifiedEmails;
    this._workspaces = resolved.workspaces;
    this._minimumWorkspaceRole = resolved.minimumWorkspaceRole;
    this._listWorkspaces = resolved.fetchWorkspaces;
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
      return Promise.reject(new TypeError('passport-bitbucket-auth: refresh() needs the refresh token'));
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
   * Closes the strategy's connections to Bitbucket (idle ones, and any still in use), for a
   * clean shutdown or the end of a test. An agent the app passed (`agent`) is the app's to
   * close. The strategy still works afterwards: it opens new connections as needed.
   */
  close(): void {
    this._pool?.close();
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
      // A state is used once in this process: of two callbacks that carry the same one (a
      // replay racing the real one), only the first goes on. The session store then removes
      // it, which covers later requests and other instances that share the session store.
      const state = query['state'];
      if (typeof query['code'] === 'string' && typeof state === 'string' && state !== '' && !this._usedStates.claim(state)) {
        failLogin(this, { message: 'Invalid authorization request state.' }, 403);
        return;
      }
    }
    super.authenticate(req, options);
  }

  /**
   * Loads the profile: `/2.0/user` and `/2.0/user/emails` concurrently (one round trip after
   * the token), then the emails' further pages, if any.
   */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: Profile) => void): void {
    const secrets = [...this._oauth2.secrets(), accessToken];
    const profile = this.loadProfile(accessToken).catch((error: unknown) => {
      throw redact(error, secrets);
    });
    callbackify(() => profile)(done);
  }

  /**
   * The profile stage, under one deadline: the login's (the token exchange's start plus
   * {@link LOGIN_TIMEOUTS} × `timeout`), or, when called on its own, now plus two `timeout`s.
   * At the deadline every request still running, and every retry, ends with a
   * `BitbucketTimeoutError`.
   */
  private async loadProfile(accessToken: string): Promise<Profile> {
    const timeout = this._oauth2.limits.timeout;
    const login = takeLogin(accessToken);
    const deadline = login?.deadline ?? Date.now() + (LOGIN_TIMEOUTS - 1) * timeout;
    const cancel = new Cancellation();
    const limit = LOGIN_TIMEOUTS * timeout;
    const timer = setTimeout(() => {
      const message = `The login timed out: Bitbucket did not finish answering within the login's deadline of ${limit} ms (3 × timeout)`;
      cancel.cancel(new BitbucketTimeoutError(message, { timeout: limit, limit: 'login' }));
    }, Math.max(0, deadline - Date.now()));
    try {
      return await this.loadProfileParts(accessToken, cancel);
    } finally {
      clearTimeout(timer);
      login?.release();
    }
  }

  private async loadProfileParts(accessToken: string, cancel: Cancellation): Promise<Profile> {
    const user = this.fetchUser(accessToken, cancel);
    const emails = this._skipEmails ? Promise.resolve([]) : this.fetchEmails(accessToken, cancel);
    const checked = this._workspaces ? this.checkWorkspaces(accessToken, cancel) : undefined;
    const listed = this._listWorkspaces ? this.fetchWorkspaces(accessToken, cancel) : undefined;
    // If one request fails, the others are cancelled rather than left running.
    for (const pending of [user, emails, checked, listed]) pending?.catch(() => cancel.cancel(new Error('request aborted')));
    const [profile, rawEmails, memberships, all] = await Promise.all([user, emails, checked, listed]);
    profile.emails = orderEmails(rawEmails, this._includeUnverifiedEmails);
    if (all) profile.workspaces = mergeWorkspaces(all, memberships ?? []);
    else if (memberships) profile.workspaces = memberships;
    if (memberships) permitted.set(profile, memberships);
    return profile;
  }

  /**
   * The user's role in each listed workspace, all asked at once. A 403 or 404 means the user is
   * not in that one; a 403 that names missing scopes is the consumer's problem, an error.
   */
  private async checkWorkspaces(accessToken: string, cancel: Cancellation): Promise<BitbucketWorkspace[]> {
    const answers = await Promise.all(
      this._permissionURLs.map(async ([slug, url]) => {
        const response = await this._oauth2.apiGet(url, accessToken, cancel);
        if (response.status === 200) {
          const membership = parsePermission(response.body);
          if (membership.slug.toLowerCase() !== slug.toLowerCase()) {
            throw new BitbucketResponseError('Failed to parse the workspace permission: it is for another workspace');
          }
          return membership;
        }
        if ((response.status === 403 && !missingScopes(response)) || response.status === 404) return undefined;
        throw apiError('Fetching the workspace permission', response, true);
      }),
    );
    return answers.filter((m): m is BitbucketWorkspace => m !== undefined);
  }

  private async fetchUser(accessToken: string, cancel: Cancellation): Promise<Profile> {
    const response = await this._oauth2.apiGet(this._userProfileURL, accessToken, cancel);
    if (response.status !== 200) throw apiError('Fetching the user profile', response, true);
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
      onError: (response, firstPage) => (response.status === 403 && firstPage ? [] : apiError('Fetching the user emails', response)),
    });
  }

  private fetchWorkspaces(accessToken: string, cancel: Cancellation): Promise<BitbucketWorkspace[]> {
    return fetchAllPages({
      what: 'workspaces',
      endpoint: this._workspacesEndpoint,
      get: (page) => this._oauth2.apiGet(page, accessToken, cancel),
      parse: parseWorkspacesPage,
      onError: (response) => apiError('Fetching the workspaces', response, true),
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
      // Only what the permission requests found counts: never the listing's entries.
      if (isPermitted(permitted.get(profile) ?? [], allowed, this._minimumWorkspaceRole)) return done(null, profile);
      failLogin(this, { message: REFUSALS[this._minimumWorkspaceRole], reason: 'workspace' }, 403);
    });
  }

  /** Token errors and this package's own errors reach the app as they are, not wrapped. */
  protected _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof TokenError || err instanceof BitbucketError) return err;
    return new InternalOAuthError(message, err);
  }
}
