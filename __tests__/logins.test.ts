/**
 * One login from callback to outcome: the state it spends, the callback URL it may name, its
 * deadline, the requests it may send, what it leaves behind, and close() in the middle of it.
 * Every Bitbucket here is a server on 127.0.0.1 that the test starts and stops.
 */
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { inspect } from 'node:util';
import { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2';
import { BitbucketDataCenterStrategy, BitbucketNetworkError, BitbucketResponseError, Strategy, type StrategyOptions } from '../lib';
import { ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, fixture, REFRESH_TOKEN, tokenBody } from './helpers/bitbucket';
import { expectType, fakeRequest, run, signIn, type FakeRequest, type Outcome } from './helpers/passport';
import { freePort, startServer, type TestServer } from './helpers/server';
import { open } from '../lib/core/http';
import { drained, until } from './helpers/wait';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const CALLBACK = 'https://app.example.com/auth/bitbucket/callback';

let server: TestServer | undefined;
const strategies: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const strategy of strategies.splice(0)) strategy.close();
  await server?.close();
  server = undefined;
});

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const tokens: Handler = (_req, res) => json(res, 200, tokenBody());
const user: Handler = (req, res) => json(res, 200, req.url?.startsWith('/2.0/user/emails') ? fixture('emails.json') : fixture('user.json'));

/** A Bitbucket Cloud on one loopback server: `/token`, and the REST API under `/2.0`. */
async function bitbucket(handlers: { token?: Handler; api?: Handler } = {}): Promise<TestServer> {
  server = await startServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => (req.url?.includes('/token') ? (handlers.token ?? tokens) : (handlers.api ?? user))(req, res, body));
  });
  return server;
}

function cloud(extra: Partial<StrategyOptions> = {}): Strategy {
  const url = server!.url;
  const strategy = new Strategy(
    { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: CALLBACK, tokenURL: `${url}/token`, userProfileURL: `${url}/2.0/user`, userEmailsURL: `${url}/2.0/user/emails`, ...extra } as StrategyOptions,
    (_at, _rt, profile, done) => done(null, { id: profile.id }),
  );
  strategies.push(strategy);
  return strategy;
}

/** The authorize leg: a session holding the state (and verifier), and that state. */
async function authorize(strategy: Strategy, session: Record<string, unknown> = {}): Promise<{ session: Record<string, unknown>; state: string }> {
  const redirect = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
  return { session, state: new URL(redirect.url).searchParams.get('state')! };
}

/** A form-post callback: `code` and `state` in the body, as passport-oauth2 also reads them. */
function postCallback(body: Record<string, string>, session: Record<string, unknown>): FakeRequest {
  return { ...fakeRequest({}, session), method: 'POST', body };
}

describe('the one-use state', () => {
  it('is spent only once the state store has accepted it: a forged callback cannot burn a victim\'s state', async () => {
    await bitbucket();
    const strategy = cloud();
    const victim = await authorize(strategy);
    // The same state, from a browser without the victim's session.
    const forged = expectType(await run(strategy, fakeRequest({ code: 'junk', state: victim.state }, {})), 'fail');
    expect(forged.status).toBe(403);
    expectType(await run(strategy, fakeRequest({ code: 'the-code', state: victim.state }, victim.session)), 'success');
  });

  it.each([
    ['with PKCE (the default)', {}],
    ['without PKCE', { pkce: false }],
    ['under a sessionKey of its own', { sessionKey: 'bitbucket-login' }],
    // passport-oauth2 takes an empty sessionKey as none, and names the key after url.parse()'s hostname: `::1`, not `[::1]`.
    ["under an empty sessionKey (passport-oauth2's own key)", { sessionKey: '' }],
    ['with an IPv6 authorizationURL', { authorizationURL: 'http://[::1]:9/site/oauth2/authorize' }],
  ])('is not spent by a callback with a wrong state in the user\'s own session, %s', async (_label, extra) => {
    await bitbucket();
    const strategy = cloud(extra as Partial<StrategyOptions>);
    const { session, state } = await authorize(strategy);
    // A forged link opened in the user's browser while the real login is under way.
    const forged = expectType(await run(strategy, fakeRequest({ code: 'junk', state: 'not-the-state' }, session)), 'fail');
    expect(forged).toMatchObject({ status: 403, challenge: { message: 'Invalid authorization request state.' } });
    const missing = expectType(await run(strategy, fakeRequest({ code: 'junk' }, session)), 'fail');
    expect(missing.status).toBe(403);
    expectType(await run(strategy, fakeRequest({ code: 'the-code', state }, session)), 'success');
    expect(server!.requests.filter((r) => r.url === '/token')).toHaveLength(1);
  });

  it('guards states delivered in a POST body: of two concurrent form-post callbacks with one state, one signs in', async () => {
    await bitbucket();
    const strategy = cloud();
    const { session, state } = await authorize(strategy);
    // Each request loads its own copy of the session, as two concurrent requests do.
    const outcomes = await Promise.all([0, 1].map(() => run(strategy, postCallback({ code: 'the-code', state }, structuredClone(session)))));
    expect(outcomes.map((o) => o.type).sort()).toEqual(['fail', 'success']);
    expect(outcomes.find((o) => o.type === 'fail')).toMatchObject({ status: 403 });
  });

  it('refuses OAuth parameters in a POST body that are not single strings', async () => {
    await bitbucket();
    const strategy = cloud();
    const { session } = await authorize(strategy);
    const outcome = expectType(await run(strategy, { ...postCallback({}, session), body: { code: ['a', 'b'] } }), 'fail');
    expect(outcome.status).toBe(400);
    expect(server!.requests).toHaveLength(0);
  });
});

describe('a per-request callbackURL', () => {
  it('must be the configured one or in callbackURLs; any other fails before a redirect', async () => {
    await bitbucket();
    const other = 'https://app.example.org/auth/bitbucket/callback';
    const strategy = cloud({ callbackURLs: [other] });
    for (const allowed of [CALLBACK, other]) {
      const redirect = expectType(await run(strategy, fakeRequest(), { callbackURL: allowed }), 'redirect');
      expect(new URL(redirect.url).searchParams.get('redirect_uri')).toBe(allowed);
    }
    for (const forged of ['https://evil.example.net/cb', `${CALLBACK}/../../evil`, '']) {
      expect(await run(strategy, fakeRequest(), { callbackURL: forged })).toMatchObject({ type: 'fail', status: 400 });
    }
    // Without a list, only the configured callbackURL.
    expect(await run(cloud(), fakeRequest(), { callbackURL: other })).toMatchObject({ type: 'fail', status: 400 });
  });

  it('takes callbackURLs only as an array of strings', () => {
    for (const callbackURLs of ['https://a.example/cb', [1], [''], {}]) {
      expect(() => new Strategy({ clientID: 'k', clientSecret: 's', callbackURLs } as unknown as StrategyOptions, () => undefined)).toThrow(/callbackURLs must be an array/);
    }
  });
});

describe('secrets of the exchange', () => {
  /** A token endpoint that echoes the form it received, as a careless proxy might. */
  const echo: Handler = (_req, res, body) => json(res, 400, { error: 'invalid_grant', error_description: `bad request: ${body}` });

  it.each(['cloud', 'datacenter'] as const)('the PKCE verifier is redacted from a token error that echoes the form (%s)', async (product) => {
    await bitbucket({ token: echo });
    const strategy =
      product === 'cloud'
        ? cloud()
        : new BitbucketDataCenterStrategy({ clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: CALLBACK, baseURL: `${server!.url}/bb`, allowInsecureHTTP: true }, async () => false);
    strategies.push(strategy);
    // Data Center's token endpoint is under the base URL.
    server!.requests.length = 0;
    const { session, state } = await authorize(strategy as Strategy);
    const verifier = (Object.values(session)[0] as { state: { code_verifier: string } }).state.code_verifier;
    expect(verifier.length).toBeGreaterThan(40);
    const { error } = expectType(await run(strategy as Strategy, fakeRequest({ code: 'code-from-bitbucket', state }, session)), 'error');
    expect(error).toBeInstanceOf(TokenError);
    const seen = [inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error), (error as Error).stack ?? ''].join('\n');
    expect(seen).toContain('[redacted]');
    for (const secret of [verifier, encodeURIComponent(verifier), 'code-from-bitbucket', CLIENT_SECRET]) expect(seen).not.toContain(secret);
  });

  it('no request is sent whose URL carries the access token: a hostile whoami naming the token as the user', async () => {
    server = await startServer((req, res) => {
      if (req.url?.startsWith('/bb/rest/oauth2/latest/token')) return json(res, 200, tokenBody());
      if (req.url?.startsWith('/bb/plugins/servlet/applinks/whoami')) return res.end(ACCESS_TOKEN);
      json(res, 200, { name: ACCESS_TOKEN, id: 1, slug: ACCESS_TOKEN });
    });
    const strategy = new BitbucketDataCenterStrategy(
      { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: CALLBACK, baseURL: `${server.url}/bb`, allowInsecureHTTP: true },
      async (_at, _rt, profile) => ({ id: profile.id }),
    );
    strategies.push(strategy);
    const { error } = expectType((await signIn(strategy)).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect(inspect(error, { depth: 10 })).not.toContain(ACCESS_TOKEN);
    expect(server.requests.map((r) => r.url).filter((url) => url.includes(ACCESS_TOKEN))).toEqual([]);
    expect(server.requests.some((r) => r.url.includes('whoami'))).toBe(true);
  });
});

describe('queue time is not request time', () => {
  it('a request waiting for one of few sockets does not spend its timeout waiting', async () => {
    await bitbucket({
      token: (_req, res) => setTimeout(() => json(res, 200, tokenBody()), 300),
      api: (req, res) => setTimeout(() => user(req, res, ''), 300),
    });
    // One socket: the second login's token request waits 300 ms for it, then takes 300 ms: 600 ms, were its wait counted.
    // Margins for a loaded machine: 200 ms on each request's timeout, 300 ms on the second login's deadline (4 × 300 of 3 × 500).
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const strategy = cloud({ timeout: 500, skipEmails: true, agent });
      const outcomes = await Promise.all([signIn(strategy, 'code-a'), signIn(strategy, 'code-b')]);
      expect(outcomes.map(({ outcome }) => outcome.type)).toEqual(['success', 'success']);
    } finally {
      agent.destroy();
    }
  });
});

describe('the profile stage\'s connections', () => {
  let tokenHost: TestServer | undefined;
  afterEach(async () => {
    await tokenHost?.close();
    tokenHost = undefined;
  });
  /** Cloud with its token endpoint on a host of its own, as bitbucket.org and api.bitbucket.org are. */
  async function twoHosts(token: Handler, extra: Partial<StrategyOptions> | ((api: string) => Partial<StrategyOptions>) = {}): Promise<Strategy> {
    const { url } = await bitbucket();
    tokenHost = await startServer((req, res) => token(req, res, ''));
    return cloud({ tokenURL: `${tokenHost.url}/token`, ...(typeof extra === 'function' ? extra(url) : extra) });
  }

  it('open to the API host while the code exchange runs, and carry nothing before the token is known', async () => {
    let sentBeforeToken = -1;
    const strategy = await twoHosts((_req, res) => {
      // The token is held back until the API requests have their connections.
      void until(() => server!.accepted() === 2, 'the API connections').then(() => {
        sentBeforeToken = server!.requests.length;
        json(res, 200, tokenBody());
      });
    });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(sentBeforeToken).toBe(0);
    expect(server!.requests.map((r) => r.url.split('?')[0]).sort()).toEqual(['/2.0/user', '/2.0/user/emails']);
    expect(server!.requests.every((r) => r.headers.authorization === `Bearer ${ACCESS_TOKEN}`)).toBe(true);
    // The GETs went on the connections opened during the exchange.
    expect(server!.accepted()).toBe(2);
  });

  it('opened for a login whose exchange fails are closed, with nothing sent on them', async () => {
    const strategy = await twoHosts((_req, res) => {
      void until(() => server!.accepted() === 2, 'the API connections').then(() => json(res, 400, { error: 'invalid_grant' }));
    });
    expect(expectType((await signIn(strategy)).outcome, 'error').error).toBeInstanceOf(TokenError);
    await until(() => server!.openSockets() === 0, 'the unused connections to close');
    expect(server!.requests).toHaveLength(0);
  });

  it('are not opened when the profile may be skipped', async () => {
    let acceptedAtToken = -1;
    const strategy = await twoHosts(
      (req, res) => void drained().then(() => ((acceptedAtToken = server!.accepted()), tokens(req, res, ''))),
      { skipUserProfile: () => false },
    );
    expectType((await signIn(strategy)).outcome, 'success');
    expect(acceptedAtToken).toBe(0);
    // Asked for after the exchange, as the function decided.
    expect(server!.requests.map((r) => r.url.split('?')[0]).sort()).toEqual(['/2.0/user', '/2.0/user/emails']);
  });

  it('replace a kept-alive connection the API host closed while the exchange ran, without spending a retry', async () => {
    server = await startServer((req, res) => user(req, res, ''), 150);
    tokenHost = await startServer((_req, res) => void setTimeout(() => json(res, 200, tokenBody()), 400));
    const strategy = cloud({ tokenURL: `${tokenHost.url}/token`, retries: 0 });
    expectType((await signIn(strategy)).outcome, 'success');
    // The API host drops the idle connections 150 ms after the first login; the second's exchange takes 400 ms.
    expectType((await signIn(strategy)).outcome, 'success');
    expect(server.requests).toHaveLength(4);
  });

  it('are not opened on an app\'s agent, which may write the headers as it connects (proxy agents do)', async () => {
    let acceptedAtToken = -1;
    const agent = new Agent({ keepAlive: true });
    try {
      const strategy = await twoHosts((req, res) => void drained().then(() => ((acceptedAtToken = server!.accepted()), tokens(req, res, ''))), { agent });
      expectType((await signIn(strategy)).outcome, 'success');
      expect(acceptedAtToken).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it('sign in with an Expect header among customHeaders (Node writes such headers at once): none is opened ahead', async () => {
    let sentBeforeToken = -1;
    const strategy = await twoHosts((req, res) => void drained().then(() => ((sentBeforeToken = server!.requests.length), tokens(req, res, ''))), {
      customHeaders: { Expect: '100-continue' },
    });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(sentBeforeToken).toBe(0);
    expect(server!.requests.every((r) => r.headers.authorization === `Bearer ${ACCESS_TOKEN}`)).toBe(true);
  });

  it('hold no connection after the login when two first requests are the same URL', async () => {
    const strategy = await twoHosts(tokens, (api) => ({ userProfileURL: `${api}/2.0/user/emails?pagelen=100` }));
    expectType((await signIn(strategy)).outcome, 'error'); // an emails page is no user
    const agent = (strategy as unknown as { _oauth2: { agents: Record<'http:', Agent> } })._oauth2.agents['http:'];
    await until(() => Object.values(agent.sockets).every((sockets) => !sockets?.length), 'every connection back in the pool');
  });

  it('with a custom header Node refuses to send, the login fails with a BitbucketNetworkError, and nothing is sent', async () => {
    const strategy = await twoHosts(tokens, {});
    // Options are checked when the strategy is made: here an app changes the client's headers afterwards.
    (strategy as unknown as { _oauth2: { _customHeaders: object } })._oauth2._customHeaders = { 'X-Trace': 'a\r\nInjected: 1' };
    expect(expectType((await signIn(strategy)).outcome, 'error').error).toBeInstanceOf(BitbucketNetworkError);
    expect([...server!.requests, ...tokenHost!.requests]).toHaveLength(0);
  });

  it('are not opened to the token endpoint\'s own host, whose connection is free again once the token is back', async () => {
    let acceptedAtToken = 0;
    await bitbucket({
      token: (_req, res) => {
        void drained().then(() => {
          acceptedAtToken = server!.accepted();
          json(res, 200, tokenBody());
        });
      },
    });
    expectType((await signIn(cloud())).outcome, 'success');
    expect(acceptedAtToken).toBe(1);
  });
});

describe('requests that cannot go out', () => {

  it('one sent on an aborted signal, or whose connection failed before it was sent, fails at once and goes nowhere', async () => {
    await bitbucket();
    const agent = new Agent();
    const bounds = { timeout: 1000, maxBytes: 1000 };
    try {
      const controller = new AbortController();
      controller.abort(new BitbucketNetworkError('the login ended', { cause: undefined }));
      await expect(open('GET', `${server!.url}/2.0/user`, {}, agent).send(undefined, undefined, controller.signal, bounds)).rejects.toThrow('the login ended');
      const refused = open('GET', `http://127.0.0.1:${await freePort()}/2.0/user`, {}, agent);
      await until(() => refused.usable() === undefined, 'the refused connection');
      await expect(refused.send(undefined, undefined, new AbortController().signal, bounds)).rejects.toBeInstanceOf(BitbucketNetworkError);
      await drained();
      expect(server!.requests).toHaveLength(0);
    } finally {
      agent.destroy();
    }
  });

  it('a failed profile request ends its siblings: the next emails page is not asked for', async () => {
    await bitbucket({
      api: (req, res) => {
        if (req.url?.startsWith('/2.0/user/emails')) {
          const page = { values: [], next: `${server!.url}/2.0/user/emails?page=2` };
          setTimeout(() => json(res, 200, page), 50);
        } else json(res, 404, { type: 'error', error: { message: 'No such user' } });
      },
    });
    const { outcome } = await signIn(cloud());
    expectType(outcome, 'error');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server!.requests.some((r) => r.url.includes('page=2'))).toBe(false);
  });
});

describe('close()', () => {
  it('ends a login in flight at once, and sends nothing more for it', async () => {
    await bitbucket({ api: () => undefined }); // the API never answers
    const strategy = cloud({ timeout: 10_000, retries: 5 });
    const login = signIn(strategy);
    await new Promise<void>((resolve) => {
      const check = (): void => void (server!.requests.length >= 3 ? resolve() : setImmediate(check));
      check();
    });
    const sent = server!.requests.length;
    const started = Date.now();
    strategy.close();
    const { error } = expectType((await login).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketNetworkError);
    expect(Date.now() - started).toBeLessThan(1000);
    // Longer than any retry's pause (at most 4.8 s for a fifth retry, but 300 ms for the first).
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server!.requests).toHaveLength(sent);
  });

  it.each([
    ['its own agent', undefined],
    ["the app's agent, which close() leaves open", new Agent({ keepAlive: true })],
  ])('ends a refresh in flight on %s, and the strategy signs in again afterwards', async (_name, agent) => {
    let stall = true;
    await bitbucket({ token: (req, res, body) => (stall && body.includes('refresh_token') ? undefined : tokens(req, res, body)) });
    try {
      const strategy = cloud({ timeout: 10_000, ...(agent ? { agent } : {}) });
      const refreshing = strategy.refresh(REFRESH_TOKEN);
      await until(() => server!.requests.length >= 1, 'the refresh to reach Bitbucket');
      strategy.close();
      const error: unknown = await refreshing.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BitbucketNetworkError);
      expect(error).toMatchObject({ message: 'The strategy was closed while Bitbucket was answering' });
      stall = false;
      expectType((await signIn(strategy)).outcome, 'success');
    } finally {
      agent?.destroy();
    }
  });
});

describe('logins in flight', () => {
  const inFlight = (strategy: Strategy): number => (strategy as unknown as { _oauth2: { active: Set<unknown> } })._oauth2.active.size;

  it('end with every outcome, and an empty code begins none (a malformed callback)', async () => {
    await bitbucket();
    const strategy = cloud();
    const { session, state } = await authorize(strategy);
    expect(expectType(await run(strategy, fakeRequest({ code: '', state }, session)), 'fail').status).toBe(400);
    expect(inFlight(strategy)).toBe(0);
    expectType((await signIn(strategy)).outcome, 'success');
    expect(inFlight(strategy)).toBe(0);
  });

  // Passport's copy of the strategy is the verify function's `this`: it may end the login itself.
  it.each(['redirect', 'pass'] as const)('end when the verify function ends one with this.%s(): no deadline running, no secret kept', async (action) => {
    await bitbucket();
    const url = server!.url;
    let login: { secrets: string[] } | undefined;
    const strategy = new Strategy(
      { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: CALLBACK, tokenURL: `${url}/token`, userProfileURL: `${url}/2.0/user`, userEmailsURL: `${url}/2.0/user/emails`, timeout: 60_000 },
      function (this: { _login: { secrets: string[] }; redirect(url: string): void; pass(): void }, _at: string, _rt: string, _profile: unknown, _done: unknown) {
        login = this._login;
        return action === 'redirect' ? this.redirect('/link-your-account') : this.pass();
      },
    );
    strategies.push(strategy);
    expectType((await signIn(strategy)).outcome, action);
    expect({ inFlight: inFlight(strategy), secrets: login?.secrets }).toEqual({ inFlight: 0, secrets: [] });
  });

  it('past its deadline, one whose verify function never answers leaves nothing behind for close()', async () => {
    await bitbucket();
    const url = server!.url;
    const strategy = new Strategy(
      { clientID: CLIENT_ID, clientSecret: CLIENT_SECRET, callbackURL: CALLBACK, tokenURL: `${url}/token`, userProfileURL: `${url}/2.0/user`, skipEmails: true, timeout: 100 },
      () => undefined, // never calls done
    );
    strategies.push(strategy);
    void signIn(strategy);
    await until(() => inFlight(strategy) === 1, 'the login to begin');
    await until(() => inFlight(strategy) === 0, 'the login deadline (300 ms)', 2000);
  });

  it('are all ended by close(), which keeps none of them', async () => {
    await bitbucket({ api: () => undefined }); // the API never answers
    const strategy = cloud();
    const login = signIn(strategy);
    await until(() => server!.requests.length >= 2, 'the profile request');
    expect(inFlight(strategy)).toBe(1);
    strategy.close();
    expect(inFlight(strategy)).toBe(0);
    expect(expectType((await login).outcome, 'error').error).toBeInstanceOf(BitbucketNetworkError);
  });
});

describe('refresh()', () => {
  it('ends within 2 × timeout, time queued behind the connection cap included', async () => {
    await bitbucket({ token: () => undefined }); // the token endpoint never answers
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const strategy = cloud({ timeout: 200, agent });
      // Four refreshes of four tokens share one connection: the last waits for it past its deadline.
      const outcomes = await Promise.all([1, 2, 3, 4].map((n) => strategy.refresh(`${REFRESH_TOKEN}-${n}`).catch((e: unknown) => e)));
      expect(outcomes[0]).toMatchObject({ name: 'BitbucketTimeoutError', limit: 'request', timeout: 200 });
      expect(outcomes[3]).toMatchObject({ name: 'BitbucketTimeoutError', limit: 'login', timeout: 400 });
      expect((outcomes[3] as Error).message).toMatch(/^The token exchange timed out: .* deadline of 400 ms$/);
    } finally {
      agent.destroy();
    }
  });

  it('sends a refresh token that is not well-formed UTF-16 as the form encodes it, and reports Bitbucket\'s answer', async () => {
    await bitbucket({ token: (_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'Invalid refresh_token' }) });
    await expect(cloud().refresh(`\ud800${'x'.repeat(20)}`)).rejects.toBeInstanceOf(TokenError);
  });

  it('shares one exchange between callers that refresh the same token at once, and only while it runs', async () => {
    let exchanges = 0;
    await bitbucket({
      token: (_req, res) => {
        exchanges += 1;
        setTimeout(() => json(res, 200, tokenBody({ access_token: `access-${exchanges}-0123456789`, refresh_token: `refresh-${exchanges}-0123456789` })), 20);
      },
    });
    const strategy = cloud();
    const [a, b] = await Promise.all([strategy.refresh(REFRESH_TOKEN), strategy.refresh(REFRESH_TOKEN)]);
    expect(exchanges).toBe(1);
    expect(a).toBe(b);
    expect(a.refreshToken).toBe('refresh-1-0123456789');
    // Another token is another exchange, and so is the same token once the first has settled.
    await Promise.all([strategy.refresh(REFRESH_TOKEN), strategy.refresh('another-refresh-token')]);
    expect(exchanges).toBe(3);
  });

  it('rejects every caller of a shared exchange that fails, and the next call tries again', async () => {
    let exchanges = 0;
    await bitbucket({ token: (_req, res) => (exchanges += 1) && json(res, 400, { error: 'invalid_grant' }) });
    const strategy = cloud();
    const results = await Promise.allSettled([strategy.refresh(REFRESH_TOKEN), strategy.refresh(REFRESH_TOKEN)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(strategy.refresh(REFRESH_TOKEN)).rejects.toBeInstanceOf(TokenError);
    expect(exchanges).toBe(2);
  });
});

describe('around the login', () => {
  it('a refusal outside a login (userProfile called by the app) is an AuthorizationError, not a profile', async () => {
    await bitbucket({ api: (req, res) => (req.url?.includes('/permission') ? json(res, 403, { type: 'error', error: { message: 'No access' } }) : user(req, res, '')) });
    const strategy = cloud({ workspaces: ['acme'], userWorkspacesURL: `${server!.url}/2.0/user/workspaces` });
    const outcome = await new Promise<unknown[]>((resolve) => strategy.userProfile(ACCESS_TOKEN, (...args: unknown[]) => resolve(args)));
    expect(outcome[0]).toBeInstanceOf(AuthorizationError);
    expect(outcome[0]).toMatchObject({ code: 'access_denied', status: 403 });
    expect(outcome[1]).toBeUndefined();
  });

  it('wraps an error from a replaced OAuth2 client the way passport-oauth2 does', async () => {
    await bitbucket();
    const strategy = cloud();
    (strategy as unknown as { _oauth2: { getOAuthAccessToken(c: unknown, p: unknown, cb: (e: unknown) => void): void } })._oauth2.getOAuthAccessToken = (_c, _p, cb) =>
      cb({ statusCode: 500, data: 'nope' });
    const { error } = expectType((await signIn(strategy)).outcome, 'error');
    expect(error).toBeInstanceOf(InternalOAuthError);
  });

  it('guards a custom state store whose verify takes (req, state, meta, callback)', async () => {
    await bitbucket();
    const states = new Set<string>();
    const store = {
      store: (_req: unknown, _verifier: unknown, _state: unknown, _meta: unknown, cb: (e: null, s: string) => void) => cb(null, 'state-from-store-0123'),
      // Stateless: it accepts its own state every time, so only the one-use guard stops a replay.
      verify: (_req: unknown, state: string, _meta: unknown, cb: (e: null, ok: string) => void) => cb(null, states.add(state) && 'verifier-0123456789-0123456789-0123456789-abc'),
    };
    const strategy = cloud({ store: store as unknown as StrategyOptions['store'] });
    const callback = fakeRequest({ code: 'the-code', state: 'state-from-store-0123' }, {});
    expectType(await run(strategy, callback), 'success');
    expect(await run(strategy, callback)).toMatchObject({ type: 'fail', status: 403 });
  });

  it('signs in at the largest timeout it takes: the login deadline, 3 × timeout, is still one setTimeout can wait', async () => {
    await bitbucket();
    expectType((await signIn(cloud({ timeout: 715_827_882 }))).outcome, 'success');
    expect(() => cloud({ timeout: 715_827_883 })).toThrow(RangeError);
  });

  it('remembers a used state ten minutes at least, and forgets it within twenty', async () => {
    await bitbucket();
    // The middle of a ten-minute period of the clock, as generations follow it.
    const start = 4_000_000 * 60_000 + 5 * 60_000;
    const replays = async (quiet: boolean): Promise<Outcome[]> => {
      const clock = jest.spyOn(Date, 'now').mockReturnValue(start);
      try {
        const strategy = cloud();
        const { session, state } = await authorize(strategy);
        // The session copies still hold the state: only the process remembers that it was used.
        const copies = [structuredClone(session), structuredClone(session)];
        expectType(await run(strategy, fakeRequest({ code: 'the-code', state }, session)), 'success');
        const outcomes: Outcome[] = [];
        if (!quiet) {
          clock.mockReturnValue(start + 10 * 60_000 + 1);
          outcomes.push(await run(strategy, fakeRequest({ code: 'the-code', state }, copies[0])));
        }
        clock.mockReturnValue(start + 20 * 60_000 + 1);
        outcomes.push(await run(strategy, fakeRequest({ code: 'the-code', state }, copies[1])));
        return outcomes;
      } finally {
        clock.mockRestore();
      }
    };
    const [afterTen, afterTwenty] = await replays(false);
    expect(afterTen).toMatchObject({ type: 'fail', status: 403 });
    expectType(afterTwenty!, 'success');
    // Twenty quiet minutes, with no other login in between.
    expectType((await replays(true))[0]!, 'success');
  });

  describe('used states, counted through the guard itself', () => {
    const MINUTE = 60_000;
    const start = 4_000_000 * MINUTE + 5 * MINUTE;
    let clock: jest.SpiedFunction<typeof Date.now>;
    beforeEach(() => (clock = jest.spyOn(Date, 'now').mockReturnValue(start)));
    afterEach(() => clock.mockRestore());
    const claimer = async (): Promise<(state: string, at?: number) => boolean> => {
      await bitbucket();
      const strategy = cloud();
      return (state, at = start) => {
        clock.mockReturnValue(at);
        return (strategy as unknown as { claim(state: string): boolean }).claim(state);
      };
    };

    it('at 150 logins a second, a state is still remembered after ten minutes, and no longer after twenty', async () => {
      const claim = await claimer();
      let at = start;
      let i = 0;
      // The victim signs in among others, 40,000 logins after the strategy began.
      for (; i < 40_000; i += 1) claim(`state-${i}`, (at += 1000 / 150));
      const used = at;
      expect(claim('the-victims-state', used)).toBe(true);
      for (; at < used + 10 * MINUTE; i += 1) claim(`state-${i}`, (at += 1000 / 150));
      expect(claim('the-victims-state', at)).toBe(false);
      expect(claim('the-victims-state', used + 20 * MINUTE)).toBe(true);
    });

    it('does not stretch a generation over a quiet spell: a login at 19.9 minutes leaves the state forgotten by 20', async () => {
      const claim = await claimer();
      expect(claim('the-victims-state')).toBe(true);
      claim('another-state', start + 19.9 * MINUTE);
      expect(claim('the-victims-state', start + 20 * MINUTE)).toBe(true);
    });

    it('keeps 100,000 a generation: the last 100,000 at least, at most 200,000 at once', async () => {
      const claim = await claimer();
      expect(claim('the-first-state')).toBe(true);
      for (let i = 0; i < 100_000; i += 1) claim(`state-${i}`);
      expect(claim('the-first-state')).toBe(false);
      for (let i = 100_000; i < 200_000; i += 1) claim(`state-${i}`);
      expect(claim('the-first-state')).toBe(true);
    });

    it('holds a few dozen characters for a state however long (an app\'s store may sign its states)', async () => {
      const claim = await claimer();
      for (let i = 0; i < 1000; i += 1) claim(`${i}.${'x'.repeat(2000)}`);
      const { current } = (strategies.at(-1) as unknown as { _usedStates: { current: Set<string> } })._usedStates; // claimer()'s strategy
      expect(current.size).toBe(1000);
      expect(Math.max(...[...current].map((key) => key.length))).toBeLessThanOrEqual(64);
    });
  });

});
