import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { AuthorizationError, InternalOAuthError, Strategy as OAuth2Strategy, type StateStore, TokenError } from 'passport-oauth2';
import type { StrategyOptions as OAuth2StrategyOptions } from 'passport-oauth2';
import { BitbucketError, redact } from './errors';
import { attempt, inRange, isJsonObject, member, optionalString } from './json';
import { BitbucketOAuth2, BodyAuthenticatedOAuth2, LOGIN, type Login } from './oauth2';
import { type CommonOptions, LOGIN_TIMEOUTS, PREFIX } from './options';
import type { RefreshedTokens, TokenParams } from './types';
import { adaptVerify } from './verify';

/** Why a user may not sign in: a clean 403 failure before the verify function. */
export interface Refusal { message: string; reason: string }

/**
 * What a product tells the shared core: Passport's name, its endpoints, how the client authenticates (Basic for Cloud, the
 * form body for Data Center), defaults for passport-oauth2 (`scope`), and `ahead`: the URLs from the options that the profile
 * stage asks first whatever the answers (parsed once; those on another host than the token endpoint's open during the exchange).
 */
export interface Product {
  name: string;
  authorizationURL: string;
  tokenURL: string;
  clientAuthentication: 'basic' | 'body';
  passportOptions?: Record<string, unknown>;
  ahead?: readonly string[];
}

type StoreCallback = (err: Error | null, ok?: unknown, info?: unknown) => void;
/** What Passport attaches to its per-login copy of the strategy. */
type LoginActions = Partial<Record<'success' | 'fail' | 'error' | 'redirect' | 'pass', (...args: unknown[]) => void>>;

const OAUTH_PARAMETERS = ['code', 'state', 'error', 'error_description', 'error_uri'];
const MALFORMED = 'Malformed authorization response from Bitbucket.';
/** A URL's path (a relative URL's too), lower-case and without a trailing `/`, as Express routes match it. */
const pathOf = (url: unknown) => attempt(() => new URL(String(url), 'http://h').pathname.replace(/\/+$/, '').toLowerCase() || '/');
/** A used state is remembered ten to twenty minutes (a state a session still holds after that is long stale), 100,000 a generation. */
const USED_STATE_MS = 10 * 60_000;
const MAX_USED_STATES = 100_000;

/**
 * What both strategies share: the bounded client, the callback checks (single-string parameters, a permitted callback URL, a
 * state used once), the deadline, redaction, refresh, errors unwrapped. A product adds its profile and who may not sign in.
 * Per-login state lives on the copy of the strategy Passport makes for each login.
 */
export abstract class BitbucketStrategyBase<P extends object> extends OAuth2Strategy {
  protected declare _oauth2: BitbucketOAuth2;
  /** The login this copy of the strategy runs, from the callback to its outcome. */
  private _login: Login | undefined;
  private readonly _callbackURLs: ReadonlySet<string>;
  private readonly _callbackPaths: readonly string[]; // where a state is kept: the callback URLs' (`pathOf`)
  /** Used states, hashed (a state read from a callback URL can keep the URL, code included, alive), in two generations (see `claim`). */
  private _usedStates = { current: new Set<string>(), previous: new Set<string>(), period: 0 };
  /** Refresh exchanges in flight, by a hash of the refresh token. */
  private readonly _refreshing = new Map<string, Promise<RefreshedTokens>>();

  constructor(resolved: CommonOptions, product: Product, verify: unknown) {
    const { clientID, clientSecret, state, passReqToCallback, pkce, timeout, retries } = resolved;
    const { authorizationURL, tokenURL } = product;
    // A product's defaults first, the app's own options over them; the secret only in BitbucketOAuth2 below.
    const base = { ...product.passportOptions, ...resolved.passThrough, clientID, clientSecret: '', authorizationURL, tokenURL, state, passReqToCallback };
    // passport-oauth2 takes pkce as true, 'S256' or 'plain'; its types know only the boolean.
    super(Object.assign(Object.create(null), base, pkce ? { pkce } : {}) as OAuth2StrategyOptions, adaptVerify(verify, passReqToCallback));
    this.name = product.name;
    const Client = product.clientAuthentication === 'body' ? BodyAuthenticatedOAuth2 : BitbucketOAuth2;
    this._oauth2 = new Client(clientID, clientSecret, '', authorizationURL, tokenURL, resolved.headers, { timeout, retries });
    if (resolved.agent) this._oauth2.setAgent(resolved.agent);
    this._callbackURLs = new Set(resolved.callbackURLs);
    // Opened ahead only on another host than the token endpoint's (free again once the token is back); none if the profile may be skipped.
    const tokenOrigin = new URL(tokenURL).origin;
    const first = product.ahead ?? [];
    this._oauth2.fixURLs([tokenURL, ...first], resolved.maySkipProfile ? [] : first.filter((url) => new URL(url).origin !== tokenOrigin));
    // Without state and a store (passport-oauth2's NullStore), a state is the app's own per-request value, not a one-time one.
    // NOTE: the session store passport-oauth2 builds when the app gives none keeps the state under its `_key`.
    const store = resolved.passThrough['store'];
    const guarded = state || store !== undefined;
    if (guarded) this.guardStates(store === undefined ? (this as unknown as { _key: string })._key : undefined);
    this._callbackPaths = guarded ? resolved.callbackURLs.map(pathOf).filter((at) => at !== undefined) : [];
  }

  /** Loads the product's profile, and whether the user may not sign in, every request under `login`. */
  protected abstract loadProfileParts(accessToken: string, login: Login): Promise<{ profile: P; refusal?: Refusal | undefined }>;

  /**
   * Exchanges a refresh token for new tokens; store the returned `refreshToken` every time (Bitbucket Cloud rotates them). Callers
   * refreshing one token at once share one exchange. Rejects with a `TokenError` (`invalid_grant`: a dead token) or a `BitbucketError`.
   * @example
   * ```ts
   * const tokens = await strategy.refresh(user.refreshToken);
   * await db.saveTokens(user.id, tokens.accessToken, tokens.refreshToken, tokens.expiresAt);
   * ```
   */
  refresh(refreshToken: string): Promise<RefreshedTokens> {
    if (typeof refreshToken !== 'string' || refreshToken === '') return Promise.reject(new TypeError(`${PREFIX} refresh() needs the refresh token`));
    const key = createHash('sha256').update(refreshToken).digest('base64url');
    const pending = this._refreshing.get(key);
    if (pending) return pending;
    const exchange = new Promise<RefreshedTokens>((resolve, reject) => {
      this._oauth2.getOAuthAccessToken(refreshToken, { grant_type: 'refresh_token' }, (error, accessToken, newRefreshToken, results) => {
        if (error || !accessToken) return reject(error);
        const params = (results ?? {}) as TokenParams;
        const expiresIn = inRange(params.expires_in, 1, 315_360_000) ? params.expires_in : undefined; // seconds, up to ten years
        const expiresAt = expiresIn === undefined ? undefined : new Date(Date.now() + expiresIn * 1000);
        resolve({ accessToken, refreshToken: newRefreshToken || refreshToken, expiresIn, expiresAt, scope: optionalString(params, 'scope'), params });
      });
    }).finally(() => this._refreshing.delete(key));
    this._refreshing.set(key, exchange);
    return exchange;
  }

  /**
   * Ends every request in flight (each login fails with a `BitbucketNetworkError`) and closes the strategy's connections, for a
   * clean shutdown or the end of a test; an `agent` the app passed is the app's to close. The strategy still works afterwards.
   */
  close(): void {
    this._oauth2.close();
  }

  /** Refuses OAuth parameters that are not single strings (`?code=a&code=b`, `?state[x]=1`), a callback with no code, an unknown `callbackURL`. */
  override authenticate(req: Request, options: { callbackURL?: unknown } = {}): void {
    const self = this as unknown as LoginActions;
    const fail = (message: string, status: number): void => self.fail?.({ message }, status);
    let code = false, named = false; // a non-empty code; a state or a code at all
    for (const source of [req.query, req.body]) {
      if (!isJsonObject(source)) continue;
      for (const key of OAUTH_PARAMETERS) if (source[key] !== undefined && typeof source[key] !== 'string') return fail(MALFORMED, 400);
      code ||= source['code'] !== '' && source['code'] !== undefined;
      named ||= source['state'] !== undefined || source['code'] !== undefined;
    }
    // At a callback URL (less a prefix a proxy strips), a state without a code or error would start an authorization replacing the session's.
    const path = named && !code && !member(req.query, 'error') ? pathOf(req.originalUrl ?? req.url) : undefined; // read only then
    if (path && this._callbackPaths.some((at) => at.endsWith(path) || path.endsWith(at))) return fail(MALFORMED, 400);
    if (options.callbackURL !== undefined && !(typeof options.callbackURL === 'string' && this._callbackURLs.has(options.callbackURL))) {
      return fail('The callback URL is not one this strategy is configured with (callbackURL, callbackURLs).', 400);
    }
    // A login begins where passport-oauth2 exchanges a code: a non-empty one.
    if (code) {
      const login = this._oauth2.begin(LOGIN_TIMEOUTS * this._oauth2.limits.timeout);
      this._login = login;
      // Every outcome ends the login: its deadline stops and its secrets are dropped.
      for (const action of ['success', 'fail', 'error', 'redirect', 'pass'] as const) { // a verify function may end it with this.redirect()
        const act = self[action];
        if (act) self[action] = (...args) => (login.end(), act(...args));
      }
    }
    super.authenticate(req, options);
  }

  /** Hands the login to the code exchange, under a key passport-oauth2 never sends. */
  override tokenParams(options: unknown): object {
    return { ...super.tokenParams(options), [LOGIN]: this._login };
  }

  /** Loads the profile, secrets redacted from any error. A refusal fails the login (403) before verify; outside one, an `AuthorizationError`. */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: P) => void): void {
    const login = this._login ?? this._oauth2.begin((LOGIN_TIMEOUTS - 1) * this._oauth2.limits.timeout);
    const ownLogin = login !== this._login;
    const secrets = (): string[] => [...this._oauth2.secrets(), accessToken, ...login.secrets]; // read before login.end() drops them
    this.loadProfileParts(accessToken, login).then(
      ({ profile, refusal: given }) => {
        // A refusal quotes Bitbucket (a role it sent): no secret of the login goes with it.
        const refusal = given && redact(given, secrets());
        if (ownLogin) login.end();
        const fail = (this as unknown as LoginActions).fail;
        if (!refusal) process.nextTick(done, null, profile);
        else if (!ownLogin && fail) fail(refusal, 403);
        else process.nextTick(done, new AuthorizationError(refusal.message, 'access_denied', '', 403));
      },
      (error: unknown) => {
        const redacted = redact(error, secrets());
        // The profile stage's other requests end with it.
        login.abort(redacted instanceof Error ? redacted : new Error('the profile stage failed'));
        if (ownLogin) login.end();
        process.nextTick(done, redacted);
      },
    );
  }

  /** Token errors and this package's own errors reach the app as they are, not wrapped. */
  protected _createOAuthError(message: string, err: unknown): Error {
    return err instanceof TokenError || err instanceof BitbucketError ? err : new InternalOAuthError(message, err);
  }

  /**
   * A state is used once in this process: of two callbacks with it (a replay racing the real one), only the first the store
   * accepts goes on; claimed only after the store's check, so a forged callback cannot spend someone else's.
   * NOTE: passport-oauth2 keeps its store in `_stateStore` and reads its methods' arity: the guard wraps it there, arity kept.
   */
  private guardStates(sessionKey: string | undefined): void {
    const holder = this as unknown as { _stateStore: StateStore };
    const inner = holder._stateStore as StateStore & { verify(...args: unknown[]): void; store(...args: unknown[]): void };
    const invalid = { message: 'Invalid authorization request state.' };
    const claimed = (state: unknown, callback: StoreCallback): StoreCallback => (err, ok, info) => {
      if (!err && ok && typeof state === 'string' && state !== '' && !this.claim(state)) return callback(null, false, invalid);
      callback(err, ok, info);
    };
    // NOTE: passport-oauth2's session stores drop the session's state before comparing it: a wrong state (a forged link opened
    // in the user's browser) would spend the real one. A state that is not the session's is refused first, the session kept.
    const held = (req: unknown): unknown => {
      const saved = member(member(member(req, 'session'), sessionKey ?? ''), 'state');
      return isJsonObject(saved) ? saved['handle'] : saved; // PKCE keeps { handle, code_verifier }
    };
    const verify =
      inner.verify.length === 4
        ? (req: unknown, state: unknown, meta: unknown, callback: StoreCallback) => inner.verify(req, state, meta, claimed(state, callback))
        : (req: unknown, state: unknown, callback: StoreCallback) => {
            const expected = sessionKey === undefined ? undefined : held(req);
            if (typeof expected === 'string' && expected !== state) return callback(null, false, invalid);
            inner.verify(req, state, claimed(state, callback));
          };
    holder._stateStore = { store: inner.store.bind(inner), verify } as unknown as StateStore;
  }

  /** True the first time a state is seen in its lifetime: a generation per ten minutes of the clock (or when full) keeps only the one before it. */
  private claim(state: string): boolean {
    const period = Math.floor(Date.now() / USED_STATE_MS);
    let used = this._usedStates;
    if (period !== used.period || used.current.size >= MAX_USED_STATES) {
      used = this._usedStates = { current: new Set(), previous: period - used.period > 1 ? new Set() : used.current, period };
    }
    const key = createHash('sha256').update(state).digest('base64url');
    if (used.current.has(key) || used.previous.has(key)) return false;
    used.current.add(key);
    return true;
  }
}
