import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as wait } from 'node:timers/promises';

// The OAuth 2.0 server both emulators are built on (consent, codes, PKCE, grants, faults, latency,
// the loopback server); a product adds its REST routes, error shapes and quirks.

/**
 * A misbehaviour for one endpoint, for `times` requests (default: all), each with `probability` (default 1):
 * `status` (with `body`, default the product's error JSON, and `contentType`); `stall` (never answers);
 * `reset` (headers and half a body, then the connection drops); `drip` (a 200, then a byte every `intervalMs`,
 * default 50, forever); `truncate` (a 200 whose JSON stops half way); `oversize` (a 200 of `bytes`, default 2 MiB).
 */
export type EmulatorFault = { times?: number; probability?: number } & (
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  | { kind: 'stall' | 'reset' | 'truncate' }
  | { kind: 'drip'; intervalMs?: number }
  | { kind: 'oversize'; bytes?: number }
);

/** The options both emulators take, with the same names and meanings. */
export interface CommonEmulatorOptions<E extends string> {
  clientID?: string;
  clientSecret?: string;
  /** The registered callback: `redirect_uri` must start with it. Without it, any loopback `redirect_uri`. */
  callbackURL?: string | undefined;
  codeLifetimeMs?: number;
  /** `expires_in` of access tokens. */
  accessTokenLifetimeSec?: number;
  /** Whether a refresh returns a new refresh token and ends the old one. Default `true`. */
  rotateRefreshTokens?: boolean;
  /** How long a rotated refresh token keeps working after its first use, in ms. */
  refreshGraceMs?: number;
  /** Milliseconds added before every answer, for all endpoints or per endpoint. */
  latency?: number | Partial<Record<E, number>>;
  /** Per endpoint: a fault, or a list of faults of which each request draws one at random. */
  faults?: Partial<Record<E, EmulatorFault | EmulatorFault[]>>;
  /** Sign this user in without showing the consent page. */
  autoApprove?: string;
  /** Default 0: any free port. The emulator listens on 127.0.0.1 only. */
  port?: number;
  /** How long it keeps an idle keep-alive connection open, in ms. Default 5000 (Node's). */
  keepAliveTimeout?: number;
  /** The clock for code, token and refresh lifetimes, in ms. Default `Date.now`. */
  now?: () => number;
  /** Seed of the random fault draws: the same seed, the same faults. Default: random, readable as `seed`. */
  seed?: number;
}

/** What both emulators offer, with the same names. */
export interface EmulatorSurface<E extends string, U> {
  /** Where the product lives: `http://127.0.0.1:<port>` (and the context path, for Data Center). */
  url: string;
  authorizationURL: string;
  tokenURL: string;
  clientID: string;
  clientSecret: string;
  /** The accounts. Changing one changes what the API answers from then on. */
  users: U[];
  /** Requests received per endpoint. */
  stats: Record<E, number>;
  /** The seed of the fault draws: pass it back as `seed` to replay a run. */
  seed: number;
  /** Sets (or with `undefined` clears) the fault of an endpoint: one, or a list to draw from. */
  setFault(endpoint: E, fault: EmulatorFault | EmulatorFault[] | undefined): void;
  setLatency(ms: number, endpoint?: E): void;
  /** Connections open on the emulator's side right now (in use or idle keep-alive). */
  connections(): number;
  /**
   * The callback URL with a fresh code for `user`, as the consent page would give it, without a browser. `params` are checked as
   * the authorize endpoint checks them (a wrong `client_id`, `redirect_uri` or Data Center `scope` throws); a refused Cloud `scope` gives the error.
   */
  authorize(user: string, params?: Record<string, string | undefined>): string;
  close(): Promise<void>;
}

export type Grant<U> = { user: U; scopes: string[]; expiresAt: number };
/** A request to a product's endpoint: `base` is the emulator's `url`, `route` the path below it, `grant` the Bearer token's, `'expired'` or none. */
export type Call<U> = { res: ServerResponse; url: URL; base: string; route: string; grant: Grant<U> | 'expired' | undefined };

/**
 * What a product tells the core: `name` as its pages say it, `client` as it calls its client and registered callback, its `GET`
 * routes (below the context path); `check`: what else makes an authorize request untrusted (`refusal`: refused by a redirect, as
 * `invalid_scope`); `clientAuth: 'basic'`: HTTP Basic or
 * the body; `notForm`, `badClient`: the token endpoint's answers to what is not a form, and to a wrong client.
 */
export interface Product<E extends string, U extends { displayName: string }> {
  name: string;
  client: [name: string, callback: string];
  contextPath: string;
  authorizePath: string;
  tokenPath: string;
  routes: ReadonlyArray<[RegExp, E]>;
  /** A user's profile page and avatar, below the context path: the user JSON links to both. */
  pages(user: U): [profile: string, avatar: string];
  notFound(res: ServerResponse, url: URL): void;
  handle(endpoint: E, call: Call<U>): void;
  error(message: string): unknown;
  findUser(key: string): U | undefined;
  consent(params: URLSearchParams): { text: string; accounts: Array<{ value: string; id: string; label: string; note?: string }> };
  scopes(params: URLSearchParams): string[];
  check?(params: URLSearchParams): string | undefined;
  /** An OAuth error the authorize endpoint redirects back with (a trusted client and callback asking what the product refuses). */
  refusal?(params: URLSearchParams): string | undefined;
  clientAuth: 'basic' | 'body';
  notForm: [status: number, error: string, description: string];
  badClient: [status: number, error: string, description: string];
  tokenBody?(body: Record<string, unknown>, grantType: string): Record<string, unknown>;
  defaults: Required<Pick<CommonEmulatorOptions<E>, 'clientID' | 'clientSecret' | 'codeLifetimeMs' | 'accessTokenLifetimeSec' | 'refreshGraceMs'>>;
}

export function clampInt(value: string | null, fallback: number, min: number, max: number): number {
  const n = value === null ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An HTML page; `body` is HTML when it starts with `<`, else text. */
function sendPage(res: ServerResponse, status: number, title: string, body: string): void {
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Bitbucket emulator</title><style>` +
    `body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#172b4d}header{color:#0052cc;font-weight:bold}` +
    `button{font-size:1rem;padding:.4rem .8rem;margin:.2rem 0;cursor:pointer}li{list-style:none;margin:.4rem 0}</style></head>` +
    `<body><header>Bitbucket (local emulator)</header><h1>${escapeHtml(title)}</h1>${body.startsWith('<') ? body : `<p>${escapeHtml(body)}</p>`}</body></html>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(html) }).end(html);
}

function redirect(res: ServerResponse, target: string, params: Record<string, string | null>): void {
  const url = new URL(target);
  for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, value);
  res.writeHead(302, { Location: url.href, 'Content-Length': 0 }).end();
}

/** The request's body, up to 64 KiB: a larger one ends the request. */
async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) throw new Error('body too large', { cause: req.destroy() });
  }
  return body;
}

function isLoopback(url: string): boolean {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  return parsed !== undefined && /^https?:$/.test(parsed.protocol) && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
}

/** `Authorization: Basic` credentials, each form-decoded (RFC 6749 §2.3.1; nulls without a colon), or `undefined` without that header. */
function basicCredentials(header: string | undefined): { id: string | null; secret: string | null } | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const [id = '', ...secret] = Buffer.from(encoded, 'base64').toString('utf8').split(':');
  // As a form value: `+` is a space, and a malformed escape stays as it is instead of throwing.
  const decode = (s: string): string => new URLSearchParams(`v=${s.replace(/&/g, '%26')}`).get('v') ?? '';
  return secret.length > 0 ? { id: decode(id), secret: decode(secret.join(':')) } : { id: null, secret: null };
}

/** A code's grant, what it was asked with, and (RFC 7636 §4.3: `plain` without one) the challenge method. */
type Code<U> = Grant<U> & { redirectUri: string | undefined; challenge: string | undefined; method: string };

/** Starts a product's emulator on 127.0.0.1. */
export async function startEmulator<E extends string, U extends { displayName: string }>(
  options: CommonEmulatorOptions<E>,
  users: U[],
  product: Product<E, U>,
): Promise<EmulatorSurface<E, U>> {
  const { clientID = product.defaults.clientID, clientSecret = product.defaults.clientSecret, callbackURL, now = Date.now } = options;
  const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
  let draws = 0;
  // The fault draws: the n-th of a seed is always the same number in [0, 1).
  const random = (): number => createHash('sha256').update(`${seed}:${(draws += 1)}`).digest().readUInt32LE(0) / 2 ** 32;
  const rotate = options.rotateRefreshTokens ?? true;
  const all = ['authorize', 'token', ...product.routes.map((r) => r[1])] as E[];
  const latency = Object.fromEntries(all.map((e) => [e, typeof options.latency === 'number' ? options.latency : (options.latency?.[e] ?? 0)])) as Record<E, number>;
  const stats = Object.fromEntries(all.map((e) => [e, 0])) as Record<E, number>;
  const faults: Partial<Record<E, EmulatorFault | EmulatorFault[] | undefined>> = { ...options.faults };
  const faultUses = new Map<E, number>();
  const codes = new Map<string, Code<U>>();
  const accessTokens = new Map<string, Grant<U>>();
  const refreshTokens = new Map<string, { grant: Grant<U>; deadAt: number | undefined }>();
  const sockets = new Set<Socket>();
  // close() cancels the answers still waiting out their latency.
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per answer waiting
  const authorizePath = `${product.contextPath}${product.authorizePath}`;
  let origin = '';

  const server = createServer((req, res) => {
    // A request target no URL can be made of (`GET http://a:99999/`) is a 400, not a throw in the app's process.
    if (!URL.canParse(req.url ?? '/', origin)) return void res.writeHead(400, { 'Content-Length': 0, Connection: 'close' }).end();
    const url = new URL(req.url ?? '/', origin);
    const route = url.pathname.startsWith(product.contextPath) ? url.pathname.slice(product.contextPath.length) : '';
    const method = req.method ?? 'GET';
    const oauth = route === product.tokenPath ? 'token' : route === product.authorizePath && ['GET', 'POST'].includes(method) ? 'authorize' : undefined;
    const endpoint = (oauth as E | undefined) ?? (method === 'GET' ? product.routes.find(([pattern]) => pattern.test(route))?.[1] : undefined);
    if (!endpoint) {
      const owner = users.find((u) => product.pages(u).includes(route));
      if (owner && product.pages(owner)[1] === route) {
        // One fixed avatar (a filled circle): enough for an `<img>` to load.
        res.writeHead(200, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'max-age=3600' });
        return void res.end('<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128"><circle cx="64" cy="64" r="64" fill="#0052cc"/></svg>');
      }
      if (owner) return sendPage(res, 200, owner.displayName, `This is the profile page of a local ${product.name} emulator account.`);
      return product.notFound(res, url);
    }
    stats[endpoint] += 1;
    const run = (): void => {
      if (applyFault(endpoint, res)) return;
      void handle(endpoint, req, res, url, route).catch(() => (res.headersSent ? res.destroy() : sendJson(res, 500, product.error('Something went wrong'))));
    };
    if (latency[endpoint] > 0) void wait(latency[endpoint], undefined, { signal: closing.signal }).then(run, () => undefined);
    else run();
  });
  server.on('connection', (socket) => sockets.add(socket.once('close', () => sockets.delete(socket))));
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function handle(endpoint: E, req: IncomingMessage, res: ServerResponse, url: URL, route: string): Promise<void> {
    if (endpoint === 'authorize') {
      const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
      const problem = checkClient(params);
      if (problem) return sendPage(res, 400, 'Invalid OAuth request', problem);
      const refused = product.refusal?.(params);
      if (refused) return redirect(res, params.get('redirect_uri') ?? callbackURL ?? '', { error: refused, state: params.get('state') });
      return req.method === 'POST' ? decide(res, params) : consent(res, params);
    }
    if (endpoint === 'token') return token(req, res, await readBody(req));
    // NOTE: both products take the token only in the Authorization header (Cloud since May 2026).
    const found = accessTokens.get(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    product.handle(endpoint, { res, url, base: `${origin}${product.contextPath}`, route, grant: found && found.expiresAt < now() ? 'expired' : found });
  }

  function applyFault(endpoint: E, res: ServerResponse): boolean {
    const configured: EmulatorFault | EmulatorFault[] | undefined = faults[endpoint];
    const fault = Array.isArray(configured) ? configured[Math.floor(random() * configured.length)] : configured;
    if (!fault) return false;
    const used = faultUses.get(endpoint) ?? 0;
    if (fault.times !== undefined && used >= fault.times) return false;
    if (fault.probability !== undefined && random() >= fault.probability) return false;
    faultUses.set(endpoint, used + 1);
    if (fault.kind === 'status') {
      res.writeHead(fault.status, { 'Content-Type': fault.contentType ?? 'application/json' });
      res.end(fault.body ?? JSON.stringify(product.error(`Emulated error ${fault.status}`)));
    } else if (fault.kind === 'reset') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 4096 });
      res.write('{"type": "user", "uuid": "{', () => res.socket?.destroy());
    } else if (fault.kind === 'drip') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const interval = setInterval(() => res.write(' '), fault.intervalMs ?? 50);
      res.on('close', () => clearInterval(interval));
    } else if (fault.kind === 'truncate' || fault.kind === 'oversize') {
      const body =
        fault.kind === 'oversize' ? `{"values": ["${'x'.repeat(Math.max(0, (fault.bytes ?? 2 * 1024 * 1024) - 16))}"]}` : '{"type": "user", "display_name": "Trunc';
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
    }
    return true; // a stall answers nothing
  }

  /** Why an authorize request gets an error page instead of a redirect, if it does: what was compared. */
  function checkClient(params: URLSearchParams): string | undefined {
    const received = params.get('client_id');
    if (received !== clientID) return `Invalid client_id: no ${product.client[0]} has this key. Received "${received ?? ''}"; this emulator's is "${clientID}".`;
    const problem = product.check?.(params);
    if (problem !== undefined) return problem;
    const redirectUri = params.get('redirect_uri');
    if (!redirectUri) return callbackURL ? undefined : 'No callback uri defined for the OAuth client.';
    if (!callbackURL && !isLoopback(redirectUri)) {
      return `This emulator has no callbackURL, so it accepts only a loopback redirect_uri (127.0.0.1, localhost or [::1]); received "${redirectUri}".`;
    }
    if (callbackURL && !redirectUri.startsWith(callbackURL)) {
      return `The redirect_uri does not match the ${product.client[1]} registered for the ${product.client[0]}: it must start with "${callbackURL}"; received "${redirectUri}".`;
    }
    return undefined;
  }

  function consent(res: ServerResponse, params: URLSearchParams): void {
    if (params.get('response_type') !== 'code') {
      return redirect(res, params.get('redirect_uri') ?? callbackURL ?? '', { error: 'unsupported_response_type', state: params.get('state') });
    }
    if (options.autoApprove !== undefined) return decide(res, new URLSearchParams({ ...Object.fromEntries(params), decision: 'grant', user: options.autoApprove }));
    const page = product.consent(params);
    const hidden = ['client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method']
      .filter((name) => params.has(name))
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params.get(name) ?? '')}">`)
      .join('');
    const form = (inner: string): string => `<form method="post" action="${escapeHtml(authorizePath)}">${hidden}${inner}</form>`;
    const button = (a: (typeof page.accounts)[number]): string =>
      `<input type="hidden" name="user" value="${escapeHtml(a.value)}"><button name="decision" value="grant" data-user="${escapeHtml(a.id)}">${escapeHtml(a.label)}</button>`;
    const accounts = page.accounts.map((a) => `<li>${form(button(a))}${a.note ? ` <small>${escapeHtml(a.note)}</small>` : ''}</li>`).join('');
    const choose = `<p>Choose an account of this local ${product.name} emulator:</p>`;
    sendPage(res, 200, 'Authorize access', `${page.text}${choose}<ul>${accounts}</ul>${form('<button name="decision" value="deny" data-deny>Deny</button>')}`);
  }

  function decide(res: ServerResponse, form: URLSearchParams): void {
    const target = form.get('redirect_uri') ?? callbackURL ?? '';
    const state = form.get('state');
    if (form.get('decision') !== 'grant') return redirect(res, target, { error: 'access_denied', error_description: 'The user denied access.', state });
    const user = product.findUser(form.get('user') ?? '');
    if (!user) return sendPage(res, 400, 'Unknown account', `No account "${form.get('user') ?? ''}" in this emulator.`);
    redirect(res, target, { code: issueCode(user, form), state });
  }

  function issueCode(user: U, params: URLSearchParams): string {
    const code = randomBytes(18).toString('base64url');
    codes.set(code, {
      user,
      scopes: product.scopes(params),
      expiresAt: now() + (options.codeLifetimeMs ?? product.defaults.codeLifetimeMs),
      redirectUri: params.get('redirect_uri') ?? undefined,
      challenge: params.get('code_challenge') ?? undefined,
      method: params.get('code_challenge_method') ?? 'plain',
    });
    return code;
  }

  function token(req: IncomingMessage, res: ServerResponse, body: string): void {
    const fail = ([status, error, description]: [number, string, string]): void => sendJson(res, status, { error, error_description: description });
    res.setHeader('Cache-Control', 'no-store'); // RFC 6749 §5.1
    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) return fail(product.notForm);
    const form = new URLSearchParams(body);
    const basic = product.clientAuth === 'basic' ? basicCredentials(req.headers.authorization) : undefined;
    const credentials = basic ?? { id: form.get('client_id'), secret: form.get('client_secret') };
    if (credentials.id !== clientID || credentials.secret !== clientSecret) return fail(product.badClient);
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const key = form.get('code') ?? '';
      const code = codes.get(key);
      codes.delete(key); // single use, even when the exchange fails
      if (!code || code.expiresAt < now()) return fail([400, 'invalid_grant', 'The authorization code is invalid or has expired.']);
      // RFC 6749 §4.1.3: the same redirect_uri as the authorization request, when it had one.
      if (code.redirectUri !== undefined && form.get('redirect_uri') !== code.redirectUri) {
        return fail([400, 'invalid_grant', `The redirect_uri does not match the authorization request's: expected "${code.redirectUri}".`]);
      }
      if (code.challenge !== undefined) {
        const verifier = form.get('code_verifier');
        const expected = verifier === null ? null : code.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (expected !== code.challenge) return fail([400, 'invalid_grant', `The code_verifier does not match the ${code.method} code_challenge.`]);
      }
      return sendTokens(res, { user: code.user, scopes: code.scopes, expiresAt: 0 }, grantType, undefined);
    }
    if (grantType === 'refresh_token') {
      const old = form.get('refresh_token') ?? '';
      const entry = refreshTokens.get(old);
      const at = now();
      if (!entry || (entry.deadAt !== undefined && entry.deadAt <= at)) return fail([400, 'invalid_grant', 'Invalid refresh_token']);
      if (rotate && entry.deadAt === undefined) entry.deadAt = at + (options.refreshGraceMs ?? product.defaults.refreshGraceMs);
      // RFC 6749 §6 (and Bitbucket Cloud, observed): a scope sent with the refresh narrows the grant.
      const asked = form.get('scope')?.split(/[\s,]+/).filter(Boolean);
      const scopes = asked ? entry.grant.scopes.filter((s) => asked.includes(s)) : entry.grant.scopes;
      return sendTokens(res, { user: entry.grant.user, scopes, expiresAt: 0 }, grantType, rotate ? undefined : old);
    }
    return fail([400, 'unsupported_grant_type', `Unsupported grant type: ${grantType ?? 'None'}`]);
  }

  function sendTokens(res: ServerResponse, grant: Grant<U>, grantType: string, keep: string | undefined): void {
    const accessToken = randomBytes(48).toString('base64url');
    const lifetime = options.accessTokenLifetimeSec ?? product.defaults.accessTokenLifetimeSec;
    accessTokens.set(accessToken, { ...grant, expiresAt: now() + lifetime * 1000 });
    const refreshToken = keep ?? randomBytes(32).toString('base64url');
    if (keep === undefined) refreshTokens.set(refreshToken, { grant, deadAt: undefined });
    const body = { access_token: accessToken, token_type: 'bearer', expires_in: lifetime, refresh_token: refreshToken, scope: grant.scopes.join(' ') };
    sendJson(res, 200, product.tokenBody?.(body, grantType) ?? body);
  }

  return {
    url: `${origin}${product.contextPath}`,
    authorizationURL: `${origin}${authorizePath}`,
    tokenURL: `${origin}${product.contextPath}${product.tokenPath}`,
    clientID,
    clientSecret,
    users,
    stats,
    seed,
    setFault(endpoint, fault) {
      faults[endpoint] = fault;
      faultUses.set(endpoint, 0);
    },
    setLatency: (ms, endpoint) => (endpoint ? [endpoint] : all).forEach((e) => (latency[e] = ms)),
    connections: () => sockets.size,
    authorize(key, params = {}) {
      const user = product.findUser(key);
      if (!user) throw new Error(`No emulator user ${key}`);
      const search = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'));
      // What the authorize endpoint refuses with a page is thrown; what it refuses with a redirect is that redirect's URL.
      // Unnamed, the client is this emulator's and the callback its callbackURL (none: its own origin, unchecked).
      const redirectUri = params['redirect_uri'] ?? callbackURL;
      const problem = redirectUri === undefined ? undefined : checkClient(new URLSearchParams({ client_id: clientID, redirect_uri: redirectUri, ...Object.fromEntries(search) }));
      if (problem) throw new Error(problem);
      const target = new URL(redirectUri ?? origin);
      const refused = product.refusal?.(search);
      target.searchParams.set(refused ? 'error' : 'code', refused ?? issueCode(user, search));
      if (params['state'] !== undefined) target.searchParams.set('state', params['state']);
      return target.href;
    },
    close() {
      closing.abort();
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
