import { createHash } from 'node:crypto';
import { callbackify } from 'node:util';
import type { Request } from 'express';
import { InternalOAuthError, Strategy as OAuth2Strategy, type StrategyOptions as OAuth2StrategyOptions, TokenError } from 'passport-oauth2';
import { ConnectionPool } from './agent';
import { BitbucketError, BitbucketTimeoutError } from './errors';
import { Cancellation } from './http';
import { isJsonObject } from './json';
import { BitbucketOAuth2, BodyAuthenticatedOAuth2, takeLogin } from './oauth2';
import { type CommonOptions, LOGIN_TIMEOUTS } from './options';
import { redact } from './redact';
import type { RefreshedTokens, TokenParams } from './types';
import { adaptVerify } from './verify';

type LoadUserProfile = {
  _loadUserProfile(this: unknown, accessToken: string, done: (err?: unknown, profile?: object) => void): void;
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

/** Why a user may not sign in: a clean 403 failure before the verify function. */
export interface Refusal {
  message: string;
  reason: string;
}

/** The refusal a product's profile stage decided on, per loaded profile, for `_loadUserProfile`. */
const refusals = new WeakMap<object, Refusal>();

/** What a product's strategy tells the shared core. */
export interface Product {
  /** Passport's name for the strategy. */
  name: string;
  authorizationURL: string;
  tokenURL: string;
  /** How the client authenticates to the token endpoint: HTTP Basic (Cloud) or the form body (Data Center). */
  clientAuthentication: 'basic' | 'body';
  /** The requests the profile stage sends at once, opened while the code is exchanged. */
  firstRequests: readonly string[];
  /** Extra options for passport-oauth2 (e.g. a default `scope`). */
  passportOptions?: Record<string, unknown>;
}

/**
 * What both strategies share: the bounded client and its connections, the callback checks
 * (single-string parameters, a state used once), the profile stage's deadline and redaction,
 * refresh, and errors that reach the app unwrapped. A product adds how the profile is loaded
 * and who may not sign in ({@link loadProfileParts}).
 */
export abstract class BitbucketStrategyBase<P extends object> extends OAuth2Strategy {
  protected declare _oauth2: BitbucketOAuth2;
  private readonly _usedStates = new UsedStates();
  private readonly _pool: ConnectionPool | undefined;

  constructor(resolved: CommonOptions, product: Product, verify: unknown) {
    const base = {
      // A product's defaults first: the app's own options win.
      ...product.passportOptions,
      ...resolved.passThrough,
      clientID: resolved.clientID,
      // The secret is kept by BitbucketOAuth2 below, off every own property.
      clientSecret: '',
      authorizationURL: product.authorizationURL,
      tokenURL: product.tokenURL,
      state: resolved.state,
      passReqToCallback: resolved.passReqToCallback,
      ...(resolved.pkce ? { pkce: resolved.pkce } : {}),
    };
    // passport-oauth2 takes pkce as true, 'S256' or 'plain'; its types know only the boolean.
    super(base as unknown as OAuth2StrategyOptions, adaptVerify(verify, resolved.passReqToCallback));
    this.name = product.name;
    const Client = product.clientAuthentication === 'body' ? BodyAuthenticatedOAuth2 : BitbucketOAuth2;
    this._oauth2 = new Client(resolved.clientID, resolved.clientSecret, '', product.authorizationURL, product.tokenURL, resolved.headers, {
      timeout: resolved.timeout,
      retries: resolved.retries,
    });
    if (resolved.agent) {
      this._oauth2.setAgent(resolved.agent);
    } else {
      this._pool = new ConnectionPool();
      // None opened ahead when the profile may be skipped.
      this._oauth2.useConnections(this._pool, resolved.maySkipProfile ? [] : product.firstRequests);
    }
  }

  /**
   * Loads the product's profile, and whether the user may not sign in; every request uses
   * `cancel`, which the deadline triggers.
   */
  protected abstract loadProfileParts(accessToken: string, cancel: Cancellation): Promise<{ profile: P; refusal?: Refusal | undefined }>;

  /**
   * Exchanges a refresh token for new tokens. Store the returned `refreshToken` every time:
   * Bitbucket Cloud rotates refresh tokens (Data Center may). Rejects with passport-oauth2's
   * `TokenError` (`code: 'invalid_grant'` for a dead refresh token) or a `BitbucketError`.
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

  /** Loads the profile, with every secret redacted from what can go wrong. */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: P) => void): void {
    const profile = this.loadProfile(accessToken).catch((error: unknown) => {
      throw redact(error, [...this._oauth2.secrets(), accessToken]);
    });
    callbackify(() => profile)(done);
  }

  /**
   * The profile stage, under one deadline: the login's (the token exchange's start plus
   * {@link LOGIN_TIMEOUTS} × `timeout`), or, when called on its own, now plus two `timeout`s.
   * At the deadline every request still running, and every retry, ends with a
   * `BitbucketTimeoutError`.
   */
  private async loadProfile(accessToken: string): Promise<P> {
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
      const { profile, refusal } = await this.loadProfileParts(accessToken, cancel);
      if (refusal) refusals.set(profile, refusal);
      return profile;
    } finally {
      clearTimeout(timer);
      login?.release();
    }
  }

  /**
   * passport-oauth2 calls this with the login's own `fail`, so that a product's rule can
   * refuse a user cleanly (a failure, not an error) before the verify function is called.
   */
  protected _loadUserProfile(accessToken: string, done: (err?: unknown, profile?: P) => void): void {
    const load = (OAuth2Strategy.prototype as unknown as LoadUserProfile)._loadUserProfile;
    load.call(this, accessToken, (err, profile) => {
      const refused = err || !profile ? undefined : refusals.get(profile);
      if (!refused) return done(err, profile as P | undefined);
      failLogin(this, refused, 403);
    });
  }

  /** Token errors and this package's own errors reach the app as they are, not wrapped. */
  protected _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof TokenError || err instanceof BitbucketError) return err;
    return new InternalOAuthError(message, err);
  }
}
