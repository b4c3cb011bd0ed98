import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { createSecureContext } from 'node:tls';
import { setTimeout as pause } from 'node:timers/promises';
import { OAuth2, type oauth2tokenCallback } from 'oauth';
import { BitbucketNetworkError, BitbucketResponseError, BitbucketTimeoutError, formEncode, holdsSecret, redact, secretForms, tokenError } from './errors';
import { abortedError, type Bounds, type HttpResponse, open, type OpenRequest, target, type Target } from './http';
import { isJsonObject, optionalString, parseObject } from './json';
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT, LOGIN_TIMEOUTS, MAX_RESPONSE_BYTES } from './options';

/** The client's bounds, retries of a failed GET, and how the client authenticates: Basic (Cloud) or the form body (Data Center). */
export interface ClientLimits extends Bounds { retries: number; clientAuthentication: 'basic' | 'body' }

/**
 * One login: its signal ends its requests (the deadline, a failed sibling, `close()`); `secrets` (code, verifier, tokens) no
 * URL may carry (`forbidden`: their forms, worked out once) and every error loses; `opened`: the first GETs, made during the
 * code exchange. `end()` drops them all.
 */
export interface Login {
  readonly signal: AbortSignal;
  readonly secrets: string[];
  readonly opened: Map<string, OpenRequest>;
  forbidden?: readonly string[] | undefined;
  abort(reason: Error): void;
  end(): void;
}

/** Where passport-oauth2's token parameters carry the login to the code exchange. */
export const LOGIN = Symbol('passport-bitbucket-auth login');

/** An idle connection is kept 4 minutes, under common middlebox limits (AWS NAT: 350 s); Node's 5 s would cost most sign-ins new handshakes. */
export const IDLE_TIMEOUT = 4 * 60_000;
/** Connections per host at most; further requests queue, without their `timeout` running. */
export const MAX_SOCKETS = 128;

/**
 * node-oauth's `OAuth2` (its constructor and authorize URL) with every request made as Bitbucket documents it: the client
 * authenticated in one place, the token only in `Authorization: Bearer`, each request bounded in time and size, the secret
 * off the object's own properties (`_clientSecret` still reads it, for code that rebuilds the client with six arguments).
 */
export class BitbucketOAuth2 extends OAuth2 {
  readonly limits: ClientLimits;
  /** URLs from the options, parsed once, none holding the client secret: no login's secret can be in them (see `fixURLs`). */
  private readonly known = new Map<string, Target>();
  /** The URLs a login opens during its code exchange. */
  private ahead: readonly string[] = [];
  /** The strategy's own keep-alive agents, unless the app gave one (`agent`, `setAgent`). */
  private readonly agents: Record<'http:' | 'https:', http.Agent>;
  /** The logins (and refreshes) in flight: `close()` aborts them. */
  private readonly active = new Set<AbortController>();

  constructor(clientId: string, clientSecret: string, baseSite: string, authorizePath?: string, accessTokenPath?: string,
    customHeaders?: http.OutgoingHttpHeaders, limits?: Partial<ClientLimits>) {
    super(clientId, clientSecret, baseSite, authorizePath, accessTokenPath, customHeaders);
    // The secret lives in this closure, not a property's value (`_clientSecret` reads and sets it); a new one fixes the URLs again.
    let secret = clientSecret;
    const set = (value: unknown): void => {
      secret = typeof value === 'string' ? value : '';
      this.fixURLs([...this.known.keys()], this.ahead);
    };
    Object.defineProperty(this, '_clientSecret', { enumerable: false, get: () => secret, set });
    this.limits = { timeout: DEFAULT_TIMEOUT, maxBytes: MAX_RESPONSE_BYTES, retries: DEFAULT_RETRIES, clientAuthentication: 'basic', ...limits };
    // node-oauth's own get(), should an app call it: the token in the header, never the URL.
    this.useAuthorizationHeaderforGET(true);
    const options = { keepAlive: true, timeout: IDLE_TIMEOUT, maxSockets: MAX_SOCKETS, maxFreeSockets: 32 };
    // One TLS context for every connection of the pool, instead of one built per handshake.
    this.agents = { 'http:': new http.Agent(options), 'https:': new https.Agent({ ...options, secureContext: createSecureContext() }) };
  }

  /** The client's own secrets, to redact from anything it reports. */
  secrets(): string[] { return [this._clientSecret, this.basicAuthorization().slice('Basic '.length)]; }

  /**
   * Names the URLs the options fix (`urls`), parsed once; GETs to them skip the check for a login's secrets, which cannot be in
   * a URL fixed before the login began. One holding the client secret is left out. `ahead` open during a login's code exchange.
   */
  fixURLs(urls: readonly string[], ahead: readonly string[]): void {
    const forms = secretForms([this._clientSecret]);
    this.known.clear();
    for (const url of urls) if (!holdsSecret(url, forms)) this.known.set(url, target(url));
    this.ahead = [...new Set(ahead)];
  }

  /** A login (or a token exchange of its own), aborted at `deadline` ms from now with a `BitbucketTimeoutError`, or by `close()`. */
  begin(deadline: number, what = 'login'): Login {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      // Past its deadline a login has nothing left for close() to end, whether or not its outcome ever comes.
      this.active.delete(controller);
      const message = `The ${what} timed out: Bitbucket did not finish answering within the ${what}'s deadline of ${deadline} ms`;
      controller.abort(new BitbucketTimeoutError(message, { timeout: deadline, limit: 'login' }));
    }, deadline);
    this.active.add(controller);
    // Each of the login's requests listens to its signal: 22 at once with 20 workspaces, past Node's warning at 10.
    setMaxListeners(0, controller.signal);
    const end = (): void => {
      clearTimeout(timer);
      this.active.delete(controller);
      login.secrets.length = 0;
      login.forbidden = undefined;
      for (const request of login.opened.values()) request.cancel();
      login.opened.clear();
    };
    const login: Login = { signal: controller.signal, secrets: [], opened: new Map(), abort: (reason) => controller.abort(reason), end };
    return login;
  }

  /** Ends every request in flight and every retry (each fails at once), and closes every connection. */
  close(): void {
    const closed = (): Error => new BitbucketNetworkError('The strategy was closed while Bitbucket was answering', { cause: undefined });
    for (const controller of this.active) controller.abort(closed());
    this.active.clear();
    for (const agent of Object.values(this.agents)) agent.destroy();
  }

  /** A request with the headers every request carries and `headers`, on the app's agent or the strategy's own. */
  private open(method: 'GET' | 'POST', url: string, headers: http.OutgoingHttpHeaders = {}): OpenRequest {
    const agent = this._agent instanceof http.Agent ? this._agent : this.agents[url.startsWith('http:') ? 'http:' : 'https:'];
    return open(method, url, { Accept: 'application/json', ...this._customHeaders, ...headers }, agent, this.known.get(url));
  }

  /** Whether requests may be opened before they are sent: not on an app's agent (proxy agents write as they connect) nor with `Expect`. */
  private opensAhead(): boolean {
    return !(this._agent instanceof http.Agent) && !Object.keys(this._customHeaders).some((name) => name.toLowerCase() === 'expect');
  }

  /**
   * GETs a REST resource with the token in `Authorization`, never a URL carrying a login's secret. A 5xx, a network error or a
   * request timeout is tried again up to `retries` times after a jittered pause (100 ms, 200 ms…, ±50%) within the deadline.
   */
  async apiGet(url: string, accessToken: string, login: Login): Promise<HttpResponse> {
    const { signal } = login;
    const ahead = login.opened.get(url);
    login.opened.delete(url);
    if (!this.known.has(url) && holdsSecret(url, (login.forbidden ??= secretForms([accessToken, this._clientSecret, ...login.secrets])))) {
      ahead?.cancel();
      throw new BitbucketResponseError('A request to Bitbucket was not sent: its URL would carry a secret (a token, a code or the client secret)');
    }
    const headers = { Authorization: `Bearer ${accessToken}` };
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt >= this.limits.retries;
      try {
        const opened = attempt === 0 ? ahead?.usable() : undefined;
        const request = opened ?? this.open('GET', url, headers);
        const response = await request.send(opened ? headers.Authorization : undefined, undefined, signal, this.limits);
        if (response.status < 500 || last) return response;
      } catch (error) {
        const retriable = error instanceof BitbucketNetworkError || (error instanceof BitbucketTimeoutError && error.limit === 'request');
        if (last || signal.aborted || !retriable) throw error;
      }
      await pause(100 * 2 ** attempt * (0.5 + Math.random()), undefined, { signal }).catch(() => Promise.reject(abortedError('GET', url, signal)));
    }
  }

  /** Exchanges a code (or a refresh token) for tokens, once: a `TokenError` for OAuth error bodies, else a `BitbucketError`, redacted. */
  override getOAuthAccessToken(code: string, params: unknown, callback?: oauth2tokenCallback): void {
    const done = (typeof params === 'function' ? params : callback) as (error: unknown, accessToken?: string, refreshToken?: string, results?: object) => void;
    if (typeof done !== 'function') throw new TypeError('getOAuthAccessToken requires a callback');
    const extra = isJsonObject(params) ? params : {};
    const given = (extra as { [LOGIN]?: Login })[LOGIN];
    // Outside a login (a refresh), the exchange is one of its own: its deadline is 2 × `timeout`, and `close()` ends it.
    const login = given ?? this.begin((LOGIN_TIMEOUTS - 1) * this.limits.timeout, 'token exchange');
    const verifier = optionalString(extra, 'code_verifier');
    login.secrets.push(code, ...(verifier ? [verifier] : []));
    const exchange = this.requestToken(code, extra, login.signal);
    // The profile stage's first connections open while Bitbucket answers the exchange.
    if (given && this.ahead.length > 0 && this.opensAhead()) for (const url of this.ahead) login.opened.set(url, this.open('GET', url));
    exchange.then(
      ({ accessToken, refreshToken, results }) => {
        login.secrets.push(accessToken, ...(refreshToken ? [refreshToken] : []));
        if (!given) login.end();
        process.nextTick(done, null, accessToken, refreshToken, results);
      },
      (error: unknown) => {
        if (!given) login.end();
        process.nextTick(done, redact(error, [...this.secrets(), code, verifier]));
      },
    );
  }

  private async requestToken(code: string, params: Record<string, unknown>, signal: AbortSignal) {
    // Client credentials are added below, in one place only: nothing is sent twice.
    const form: Record<string, string> = Object.assign(Object.create(null), { grant_type: 'authorization_code' });
    for (const [key, value] of Object.entries(params)) if (value != null && !/^client_(id|secret)$/.test(key)) form[key] = String(value);
    const refreshing = form['grant_type'] === 'refresh_token';
    form[refreshing ? 'refresh_token' : 'code'] = code;
    // NOTE: Bitbucket narrows a refreshed token to the scopes named on the refresh request (observed): none is sent.
    if (refreshing) delete form['scope'];
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (this.limits.clientAuthentication !== 'body') headers['Authorization'] = this.basicAuthorization();
    else Object.assign(form, { client_id: this._clientId, client_secret: this._clientSecret });
    const body = new URLSearchParams(form).toString();
    headers['Content-Length'] = Buffer.byteLength(body);
    const response = await this.open('POST', this._getAccessTokenUrl(), headers).send(undefined, body, signal, this.limits);
    const what = refreshing ? 'Refreshing the access token' : 'Exchanging the authorization code';
    if (response.status < 200 || response.status > 299) throw tokenError(what, response);
    const json = parseObject(response.body);
    // A refused token response may still hold tokens: none of them may be reported.
    const refuse = (problem: string): Error =>
      redact(new BitbucketResponseError(`${what}: Bitbucket's token response ${problem}`), Object.values(json ?? {}).filter((v) => typeof v === 'string'));
    if (!json) throw refuse('is not a JSON object');
    const { access_token: accessToken, refresh_token: refreshToken, ...results }: Record<string, unknown> = json;
    if (typeof accessToken !== 'string' || accessToken === '') throw refuse('has no access_token');
    // The token goes into the Authorization header: one that cannot is refused here, not by Node mid-request.
    if (!headerSafe(accessToken)) throw refuse('has an access_token with characters that cannot be sent in a header');
    // RFC 6749 §7.1: a token of a type the client does not know is not used (Bitbucket's is `bearer`).
    const type = results['token_type'];
    if (type !== undefined && String(type).toLowerCase() !== 'bearer') throw refuse('has a token_type other than bearer');
    // NOTE: Bitbucket answers `scopes` until its 2026 change and `scope` after it: read both.
    if (typeof results['scope'] !== 'string' && typeof results['scopes'] === 'string') results['scope'] = results['scopes'];
    return { accessToken, refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : undefined, results };
  }

  /** `Basic base64(id:secret)`, each part form-encoded first as RFC 6749 §2.3.1 asks. */
  private basicAuthorization(): string {
    return `Basic ${Buffer.from(`${formEncode(this._clientId)}:${formEncode(this._clientSecret)}`, 'utf8').toString('base64')}`;
  }
}

/** Visible ASCII only (RFC 6750's b64token is a subset); a loop, as V8 keeps a regular expression's last subject alive. */
function headerSafe(token: string): boolean {
  for (let i = 0; i < token.length; i += 1) {
    const code = token.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/** Credentials in the form body, for Data Center: a class, so a client rebuilt with six arguments (passport-oauth2-refresh) keeps them there. */
export class BodyAuthenticatedOAuth2 extends BitbucketOAuth2 {
  constructor(...[id, secret, base, authorize, token, headers, limits]: ConstructorParameters<typeof BitbucketOAuth2>) {
    super(id, secret, base, authorize, token, headers, { ...limits, clientAuthentication: 'body' });
  }
}
