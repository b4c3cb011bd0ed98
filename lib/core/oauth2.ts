import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { OAuth2, type dataCallback, type oauth2tokenCallback } from 'oauth';
import { safeURL, tokenError } from './answers';
import { BitbucketResponseError } from './errors';
import { isJsonObject, optionalString, parseJson } from './json';
import { callbackify } from 'node:util';
import { type Cancellation, type HttpLimits, type HttpResponse, isTransient, pause, send } from './http';
import type { ConnectionPool } from './agent';
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT, LOGIN_TIMEOUTS, MAX_RESPONSE_BYTES } from './options';
import { redact } from './redact';


/** The client's bounds: each request's, and how often a failed GET is tried again. */
export interface ClientLimits extends HttpLimits {
  retries: number;
  /**
   * How the client authenticates to the token endpoint: HTTP Basic, as Bitbucket Cloud
   * documents, or `client_id` and `client_secret` in the form body, as Data Center expects.
   */
  clientAuthentication: 'basic' | 'body';
}

type TokenCallback = (
  error: unknown,
  accessToken?: string,
  refreshToken?: string,
  results?: Record<string, unknown>,
) => void;
type DataCallback = (
  error: unknown,
  result?: string | Buffer,
  response?: IncomingMessage,
) => void;

/** Visible ASCII only: what a bearer token may hold (RFC 6750's b64token is a subset). */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

const secrets = new WeakMap<object, string>();

/**
 * node-oauth's `OAuth2` client, made to talk to Bitbucket the way Bitbucket documents it.
 *
 * - Token requests authenticate the client in one place only, never sent to the REST API:
 *   HTTP Basic (Cloud) or the form body (`clientAuthentication: 'body'`, Data Center).
 * - The access token travels only in `Authorization: Bearer` (Bitbucket's 2026 rule), never
 *   in a query string.
 * - Every request is bounded by a timeout and a response size cap.
 * - The client secret lives outside the object's own properties, so logging or serialising
 *   the strategy cannot reveal it; `_clientSecret` still reads it for code that rebuilds the
 *   client from `strategy._oauth2.constructor` (passport-oauth2-refresh, Backstage).
 *
 * The constructor keeps node-oauth's signature so those rebuilds work; a rebuilt client has
 * the default limits.
 */
export class BitbucketOAuth2 extends OAuth2 {
  readonly limits: ClientLimits;
  /** The strategy's own connections, unless the app gave an agent (`agent`, `setAgent`). */
  private pool: ConnectionPool | undefined;
  /** The profile stage's first requests, as one URL and a count per origin: opened ahead while a code is exchanged. */
  private firstRequests: ReadonlyArray<{ url: string; count: number }> = [];

  constructor(
    clientId: string,
    clientSecret: string,
    baseSite: string,
    authorizePath?: string,
    accessTokenPath?: string,
    customHeaders?: OutgoingHttpHeaders,
    limits?: Partial<ClientLimits>,
  ) {
    super(clientId, clientSecret, baseSite, authorizePath, accessTokenPath, customHeaders);
    this.limits = {
      timeout: limits?.timeout ?? DEFAULT_TIMEOUT,
      maxBytes: limits?.maxBytes ?? MAX_RESPONSE_BYTES,
      retries: limits?.retries ?? DEFAULT_RETRIES,
      clientAuthentication: limits?.clientAuthentication ?? 'basic',
    };
  }

  /**
   * Uses `pool` for every request the app has not given an agent for, and opens connections
   * for `firstRequests` (the URLs the profile stage asks at once) while a code is exchanged.
   */
  useConnections(pool: ConnectionPool, firstRequests: readonly string[]): void {
    this.pool = pool;
    const byOrigin = new Map<string, { url: string; count: number }>();
    for (const url of firstRequests) {
      const origin = new URL(url).origin;
      const entry = byOrigin.get(origin) ?? { url, count: 0 };
      entry.count += 1;
      byOrigin.set(origin, entry);
    }
    this.firstRequests = [...byOrigin.values()];
  }

  /**
   * Opens the API connections the profile stage will need, one per concurrent request, minus
   * the idle ones already pooled, so that its requests go out on ready sockets. Returns what
   * discards those still unused. Nothing is opened when the app brought its own agent.
   */
  private preconnect(): () => void {
    if (!this.pool || this._agent || this.firstRequests.length === 0) return () => undefined;
    const pool = this.pool;
    const releases = this.firstRequests.map(({ url, count }) => pool.preconnect(url, count));
    return () => releases.forEach((release) => release());
  }

  /** The client's own secrets, to redact from anything it reports. */
  secrets(): string[] {
    return [this._clientSecret, this.basicAuthorization().slice('Basic '.length)];
  }

  /** Sends a request with the client's custom headers and limits. */
  send(
    method: 'GET' | 'POST',
    url: string,
    headers: OutgoingHttpHeaders,
    body?: string,
    cancel?: Cancellation,
  ): Promise<HttpResponse> {
    const agent = this._agent ?? this.pool?.agentFor(url.startsWith('http:') ? 'http:' : 'https:');
    return send(
      {
        method,
        url,
        headers: { Accept: 'application/json', ...this._customHeaders, ...headers },
        body,
        what: `${method} ${safeURL(url)}`,
        cancel,
        agent: agent === false || agent === true || agent === undefined ? undefined : agent,
      },
      this.limits,
    );
  }

  /**
   * GET a REST API resource with the access token in the `Authorization` header. A 5xx answer,
   * a reset or a refused connection is tried again, up to `retries` times, after a jittered
   * pause (100 ms, then 200 ms, each ±50%); never a 4xx, a timeout or a cancelled request.
   * A GET reads and changes nothing, so a repeat is safe. Cancelling the group ends the pauses.
   */
  async apiGet(url: string, accessToken: string, cancel?: Cancellation): Promise<HttpResponse> {
    const headers = { Authorization: `Bearer ${accessToken}` };
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt >= this.limits.retries;
      try {
        const response = await this.send('GET', url, headers, undefined, cancel);
        if (response.status < 500 || last) return response;
      } catch (error) {
        if (!isTransient(error) || last) throw error;
      }
      await pause(100 * 2 ** attempt * (0.5 + Math.random()), cancel);
    }
  }

  /**
   * Exchanges an authorization code (or, with `grant_type=refresh_token`, a refresh token)
   * for tokens. Errors: passport-oauth2's `TokenError` for Bitbucket's OAuth error bodies,
   * otherwise a `BitbucketError`.
   */
  override getOAuthAccessToken(code: string, params: unknown, callback: oauth2tokenCallback): void;
  override getOAuthAccessToken(code: string, callback: oauth2tokenCallback): void;
  override getOAuthAccessToken(code: string, params: unknown, callback?: oauth2tokenCallback): void {
    // node-oauth's typings say the error is always present; at run time it is null on success.
    let done: TokenCallback;
    let extra: unknown = params;
    if (typeof params === 'function') {
      done = params as TokenCallback;
      extra = {};
    } else if (callback) {
      done = callback as TokenCallback;
    } else {
      throw new TypeError('getOAuthAccessToken requires a callback');
    }
    const started = Date.now();
    // While a code is exchanged, the API connections open: the profile stage starts on them.
    const release = isJsonObject(extra) && extra['grant_type'] === 'authorization_code' ? this.preconnect() : () => undefined;
    const exchange = this.requestToken(code, extra).catch((error: unknown) => {
      release();
      throw redact(error, [...this.secrets(), code]);
    });
    callbackify(() => exchange)((error, result) => {
      if (error || !result) return done(error);
      rememberLogin(result.accessToken, { deadline: started + LOGIN_TIMEOUTS * this.limits.timeout, release });
      done(null, result.accessToken, result.refreshToken, result.results);
    });
  }

  private async requestToken(code: string, params: unknown): Promise<{
    accessToken: string;
    refreshToken: string | undefined;
    results: Record<string, unknown>;
  }> {
    const form = new URLSearchParams();
    if (isJsonObject(params)) {
      for (const [key, value] of Object.entries(params)) {
        if (value === undefined || value === null) continue;
        // Client credentials are added below, in one place only: nothing is sent twice.
        if (key === 'client_id' || key === 'client_secret') continue;
        form.set(key, String(value));
      }
    }
    if (!form.has('grant_type')) form.set('grant_type', 'authorization_code');
    const refreshing = form.get('grant_type') === 'refresh_token';
    form.set(refreshing ? 'refresh_token' : 'code', code);
    // NOTE: Bitbucket narrows a refreshed token to the scopes named on the refresh request
    // (observed), so a scope is never sent when refreshing.
    if (refreshing) form.delete('scope');
    const headers: OutgoingHttpHeaders = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (this.limits.clientAuthentication === 'body') {
      form.set('client_id', this._clientId);
      form.set('client_secret', this._clientSecret);
    } else {
      headers['Authorization'] = this.basicAuthorization();
    }
    const response = await this.send('POST', this._getAccessTokenUrl(), headers, form.toString());
    const what = refreshing ? 'Refreshing the access token' : 'Exchanging the authorization code';
    if (response.status < 200 || response.status > 299) throw tokenError(what, response);
    try {
      return readTokens(what, response);
    } catch (error) {
      // A token response that is refused may still hold tokens: none of them may be reported.
      throw redact(error, tokensIn(response.body));
    }
  }

  /** `Basic base64(id:secret)`, each part form-encoded first as RFC 6749 §2.3.1 asks. */
  private basicAuthorization(): string {
    const credentials = `${formEncode(this._clientId)}:${formEncode(this._clientSecret)}`;
    return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }

  /**
   * node-oauth's transport, used by `get()` and `getProtectedResource()`: routed through the
   * bounded client, with the token in the `Authorization` header, never in the URL.
   */
  protected override _request(
    method: string,
    url: string,
    headers: OutgoingHttpHeaders | null,
    body: unknown,
    accessToken: string | null,
    callback: dataCallback,
  ): void {
    const reply = callback as DataCallback;
    const merged: OutgoingHttpHeaders = { ...headers };
    if (accessToken) merged['Authorization'] = `Bearer ${accessToken}`;
    const verb = method === 'POST' ? 'POST' : 'GET';
    const payload = typeof body === 'string' && body !== '' ? body : undefined;
    callbackify(() => this.send(verb, url, merged, payload))((error, response) => {
      if (error || !response) return reply(redact(error, [...this.secrets(), accessToken ?? undefined]));
      if (response.status >= 200 && response.status <= 299) {
        return reply(null, response.body, response.response);
      }
      reply({ statusCode: response.status, data: response.body });
    });
  }
}

function readTokens(what: string, response: HttpResponse): { accessToken: string; refreshToken: string | undefined; results: Record<string, unknown> } {
  const parsed = parseJson(response.body);
  if (!parsed.ok || !isJsonObject(parsed.value)) {
    throw new BitbucketResponseError(`${what}: Bitbucket's token response is not a JSON object`);
  }
  const accessToken = optionalString(parsed.value, 'access_token');
  if (!accessToken) {
    throw new BitbucketResponseError(`${what}: Bitbucket's token response has no access_token`);
  }
  // The token goes into the Authorization header: one that cannot (a space or a control
  // character) is refused here rather than by Node mid-request.
  if (!HEADER_TOKEN.test(accessToken)) {
    throw new BitbucketResponseError(`${what}: Bitbucket's access_token has characters that cannot be sent in a header`);
  }
  // The tokens are arguments of their own: `params` (the rest of the answer) holds none.
  const { refresh_token: refreshToken, access_token: _accessToken, ...results }: Record<string, unknown> = parsed.value;
  // NOTE: Bitbucket answers `scopes` until its 2026 change and `scope` after it: read both.
  if (typeof results['scope'] !== 'string' && typeof results['scopes'] === 'string') {
    results['scope'] = results['scopes'];
  }
  return {
    accessToken,
    refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined,
    results,
  };
}

/** Every string value of a JSON object body: the tokens among them, for redaction. */
function tokensIn(body: string): string[] {
  const parsed = parseJson(body);
  return parsed.ok && isJsonObject(parsed.value) ? Object.values(parsed.value).filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The client that sends Data Center its credentials in the form body. A class of its own so
 * that code which rebuilds the client from `strategy._oauth2.constructor` with node-oauth's
 * six arguments (passport-oauth2-refresh, Backstage) keeps the body authentication.
 */
export class BodyAuthenticatedOAuth2 extends BitbucketOAuth2 {
  constructor(...args: ConstructorParameters<typeof BitbucketOAuth2>) {
    const [clientId, clientSecret, baseSite, authorizePath, accessTokenPath, customHeaders, limits] = args;
    super(clientId, clientSecret, baseSite, authorizePath, accessTokenPath, customHeaders, { ...limits, clientAuthentication: 'body' });
  }
}

/** What a login that has exchanged its code hands to its profile stage. */
export interface PendingLogin {
  /** When it must be done with Bitbucket: the exchange's start plus {@link LOGIN_TIMEOUTS} × `timeout`. */
  deadline: number;
  /** Discards the connections opened ahead that the profile stage did not use. */
  release(): void;
}

/**
 * Logins between their code exchange and their profile stage, by access token, each read once.
 * Entries past their deadline are dropped (and their connections discarded) as new ones come.
 */
const pendingLogins = new Map<string, PendingLogin>();
const MAX_PENDING_LOGINS = 10_000;

export function takeLogin(accessToken: string): PendingLogin | undefined {
  const login = pendingLogins.get(accessToken);
  pendingLogins.delete(accessToken);
  return login;
}

function rememberLogin(accessToken: string, login: PendingLogin): void {
  const now = Date.now();
  for (const [token, pending] of pendingLogins) {
    if (pending.deadline >= now && pendingLogins.size < MAX_PENDING_LOGINS) break;
    pending.release();
    pendingLogins.delete(token);
  }
  pendingLogins.set(accessToken, login);
}

Object.defineProperty(BitbucketOAuth2.prototype, '_clientSecret', {
  configurable: true,
  enumerable: false,
  get(this: object): string {
    return secrets.get(this) ?? '';
  },
  set(this: object, value: unknown) {
    secrets.set(this, typeof value === 'string' ? value : '');
  },
});

/** application/x-www-form-urlencoded, for form bodies and (RFC 6749 §2.3.1) Basic credentials. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

