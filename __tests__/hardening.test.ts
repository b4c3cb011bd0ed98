import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { TokenError } from 'passport-oauth2';
import {
  BitbucketAPIError,
  BitbucketNetworkError,
  BitbucketResponseError,
  BitbucketTimeoutError,
  Strategy,
  type Profile,
  type StrategyOptions,
} from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, expectNoSecrets, fixture, options, REFRESH_TOKEN, tokenBody } from './helpers/bitbucket';
import { expectType, fakeRequest, run, signIn } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';

const BASIC_CREDENTIALS = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');

let server: TestServer | undefined;
let bitbucket: BitbucketEmulator | undefined;
afterEach(async () => {
  await server?.close();
  await bitbucket?.close();
  server = undefined;
  bitbucket = undefined;
});

type Route = (req: IncomingMessage, res: ServerResponse, count: number) => void;

/** A Bitbucket on loopback: each path answered by its route; counts requests per path. */
async function bitbucketWith(routes: Record<string, Route>): Promise<{ strategy: (extra?: Partial<StrategyOptions>) => Strategy; count: (path: string) => number }> {
  const counts = new Map<string, number>();
  server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const count = (counts.get(path) ?? 0) + 1;
    counts.set(path, count);
    const route = routes[path];
    if (route) return route(req, res, count);
    res.writeHead(404).end();
  });
  const url = server.url;
  return {
    count: (path) => counts.get(path) ?? 0,
    strategy: (extra = {}) =>
      new Strategy(
        {
          ...options,
          tokenURL: `${url}/token`,
          userProfileURL: `${url}/2.0/user`,
          userEmailsURL: `${url}/2.0/user/emails`,
          userWorkspacesURL: `${url}/2.0/user/workspaces`,
          ...extra,
        },
        (_a, _r, profile: Profile, done) => done(null, { id: profile.id }),
      ),
  };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
};
const tokens: Route = (_req, res) => json(res, 200, tokenBody());
const user: Route = (_req, res) => json(res, 200, fixture('user.json'));
const emails: Route = (_req, res) => json(res, 200, fixture('emails.json'));

describe('no credential in a followed URL or in an error', () => {
  it('refuses a next link that carries a credential, before any request to it', async () => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': user,
      '/2.0/user/emails': (_req, res) => json(res, 200, { values: [], next: `${server!.url}/2.0/user/emails?page=2&access_token=${ACCESS_TOKEN}` }),
    });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect(error).toMatchObject({ code: 'BITBUCKET_UNSAFE_PAGINATION', message: expect.stringMatching(/carries a credential/) as unknown });
    expect(bb.count('/2.0/user/emails')).toBe(1);
    expectNoSecrets(error);
  });

  it.each(['token', 'refresh_token', 'code', 'client_secret', 'Access_Token'])('refuses a next link with %s in its query', async (name) => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': user,
      '/2.0/user/emails': (_req, res) => json(res, 200, { values: [], next: `${server!.url}/2.0/user/emails?${name}=x` }),
    });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toMatchObject({ code: 'BITBUCKET_UNSAFE_PAGINATION' });
  });

  it('sends no GET whose path carries the access token (a next link on the same origin)', async () => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': user,
      '/2.0/user/emails': (_req, res) => json(res, 200, { values: [], next: `${server!.url}/2.0/user/emails/${ACCESS_TOKEN}` }),
    });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toMatchObject({ code: 'BITBUCKET_INVALID_RESPONSE', message: expect.stringMatching(/was not sent: its URL would carry a secret/) as unknown });
    expect(bb.count(`/2.0/user/emails/${ACCESS_TOKEN}`)).toBe(0);
    expectNoSecrets(error);
  });

  it.each(['authorizationURL', 'tokenURL', 'userProfileURL', 'userEmailsURL'])('refuses a %s that holds the client secret, naming no secret', async (name) => {
    const bb = await bitbucketWith({ '/token': tokens, '/2.0/user': user, '/2.0/user/emails': emails });
    // The authorize URL goes to every browser and the token URL to logs: the secret belongs in the header or the body only.
    let thrown: unknown;
    try {
      bb.strategy({ [name]: `${server!.url}/site/oauth2/x?key=${encodeURIComponent(CLIENT_SECRET)}` });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(new RegExp(`^passport-bitbucket-auth: options\\.${name} holds the client secret`));
    expectNoSecrets(thrown);
    expect(server!.requests).toHaveLength(0);
  });

  it('checks an endpoint option again once the client secret is set to one it holds', async () => {
    const bb = await bitbucketWith({ '/token': tokens, '/2.0/user': user, '/2.0/user/emails': emails });
    const rotated = 'rotated-secret-0123456789';
    const strategy = bb.strategy({ userProfileURL: `${server!.url}/2.0/user?key=${rotated}` });
    (strategy as unknown as { _oauth2: { _clientSecret: string } })._oauth2._clientSecret = rotated;
    const { error } = expectType((await signIn(strategy)).outcome, 'error');
    expect(error).toMatchObject({ code: 'BITBUCKET_INVALID_RESPONSE', message: expect.stringMatching(/was not sent/) as unknown });
    expect(bb.count('/2.0/user')).toBe(0);
  });

  it('names a stalled page by origin and path only: no query value reaches the message, stack, JSON or inspect', async () => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': user,
      '/2.0/user/emails': (req, res) => {
        if (req.url?.includes('cursor=')) return; // stalls
        json(res, 200, { values: [], next: `${server!.url}/2.0/user/emails?page=2&cursor=opaque-cursor-value` });
      },
    });
    const { error } = expectType((await signIn(bb.strategy({ timeout: 100 }))).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketTimeoutError);
    expect(inspect(error)).not.toContain('opaque-cursor-value');
    expect((error as Error).message).not.toContain('?');
    expectNoSecrets(error);
  });
});

describe('secrets that Bitbucket or a proxy echoes back are redacted', () => {
  it('from a TokenError\'s description', async () => {
    const bb = await bitbucketWith({
      '/token': (_req, res) => json(res, 400, { error: 'invalid_client', error_description: `Bad secret ${CLIENT_SECRET} for code the-code` }),
    });
    const { error } = expectType((await signIn(bb.strategy(), 'the-code-0123456789')).outcome, 'error');
    expect(error).toBeInstanceOf(TokenError);
    expect((error as Error).message).toBe('Bad secret [redacted] for code the-code');
    expectNoSecrets(error);
  });

  it('from the code, when the token endpoint repeats it', async () => {
    const code = 'a-single-use-code-0123456789';
    const bb = await bitbucketWith({ '/token': (_req, res) => json(res, 400, { error: 'invalid_grant', error_description: `code ${code} is used` }) });
    const { error } = expectType((await signIn(bb.strategy(), code)).outcome, 'error');
    expect((error as Error).message).toBe('code [redacted] is used');
  });

  it('from an HTML page that repeats the request headers, kept in oauthError.data', async () => {
    const page = `<html><pre>Authorization: Basic ${BASIC_CREDENTIALS}</pre></html>`;
    const bb = await bitbucketWith({ '/token': (_req, res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end(page) });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as BitbucketAPIError).oauthError.data).toBe('<html><pre>Authorization: Basic [redacted]</pre></html>');
    expectNoSecrets(error);
  });

  it('from the REST API\'s error.message and body, and from a proxy page echoing the bearer token', async () => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': (_req, res) => json(res, 401, { type: 'error', error: { message: `Token ${ACCESS_TOKEN} is invalid` } }),
      '/2.0/user/emails': (_req, res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end(`<p>Authorization: Bearer ${ACCESS_TOKEN}</p>`),
    });
    const { error } = expectType((await signIn(bb.strategy({ retries: 0 }))).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect(inspect(error, { depth: 10, showHidden: true })).toContain('[redacted]');
    expectNoSecrets(error);
  });

  it('from a message cut short: a word of an echoed token at the cut is dropped, not kept in part', async () => {
    // The token begins at character 180 of a message kept to 200 characters.
    const message = `${'a '.repeat(87)}token ${ACCESS_TOKEN} is invalid`;
    const bb = await bitbucketWith({ '/token': tokens, '/2.0/user': (_req, res) => json(res, 401, { type: 'error', error: { message } }), '/2.0/user/emails': emails });
    const { error } = expectType((await signIn(bb.strategy({ retries: 0 }))).outcome, 'error');
    const { bitbucketMessage } = error as BitbucketAPIError;
    expect(bitbucketMessage).toBe(`${'a '.repeat(87)}token`);
    expect((error as Error).message).not.toContain(ACCESS_TOKEN.slice(0, 12));
  });

  it.each([
    ['whole', JSON.stringify(tokenBody())],
    ['cut short', JSON.stringify(tokenBody()).slice(0, -5)],
    ['inside an envelope of its own', JSON.stringify({ upstream: tokenBody() })],
  ])('from a token response a gateway turned into an error, %s: oauthError.data keeps none of it', async (_label, body) => {
    const bb = await bitbucketWith({ '/token': (_req, res) => json(res, 502, body) });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as BitbucketAPIError).oauthError.data).toBe('[redacted]');
    expectNoSecrets(error);
  });

  it('from the bytes Node keeps of an answer it cannot parse (a proxy that reflects the Authorization header)', async () => {
    const raw = createServer((socket) => {
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const authorization = /\r\nauthorization: ([^\r]*)/i.exec(head)?.[1];
        if (authorization) socket.end(`HTTP/1.1 200 OK\r\nX-Seen: ${authorization}\r\nContent-Length: nope\r\n\r\n{}`);
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const bb = await bitbucketWith({ '/token': tokens });
      const userProfileURL = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/2.0/user`;
      const { error } = expectType((await signIn(bb.strategy({ userProfileURL, skipEmails: true, retries: 0 }))).outcome, 'error');
      expect(error).toBeInstanceOf(BitbucketNetworkError);
      const bytes: string[] = [];
      const collect = (node: unknown, depth = 0): void => {
        if (node instanceof Uint8Array) bytes.push(Buffer.from(node).toString('latin1'));
        else if (node && typeof node === 'object' && depth < 5) for (const key of Reflect.ownKeys(node)) collect((node as Record<PropertyKey, unknown>)[key], depth + 1);
      };
      collect(error);
      expect(bytes.join('')).not.toContain(ACCESS_TOKEN);
      expectNoSecrets(error);
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('from a token response that is refused, and its tokens never reach params', async () => {
    const bb = await bitbucketWith({ '/token': (_req, res) => json(res, 200, { access_token: `${ACCESS_TOKEN} x`, refresh_token: REFRESH_TOKEN }) });
    const { error } = expectType((await signIn(bb.strategy())).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expectNoSecrets(error);
  });
});

describe('one deadline for the whole login', () => {
  it('ends a login whose pages each come just inside the timeout at 3 × timeout, not 10 ×', async () => {
    const TIMEOUT = 150;
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': user,
      '/2.0/user/emails': (_req, res, count) => {
        setTimeout(() => json(res, 200, { values: [], next: `${server!.url}/2.0/user/emails?page=${count + 1}` }), TIMEOUT * 0.8);
      },
    });
    const { error } = expectType((await signIn(bb.strategy({ timeout: TIMEOUT }))).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketTimeoutError);
    expect(error).toMatchObject({ limit: 'login', timeout: 3 * TIMEOUT, code: 'BITBUCKET_TIMEOUT' });
    expect((error as Error).message).toMatch(/within the login's deadline of 450 ms/);
    // 450 ms hold three pages of 120 ms and part of a fourth: never the ten that 10 × 150 ms would allow.
    expect(bb.count('/2.0/user/emails')).toBeLessThanOrEqual(4);
  });
});

describe('retries of the profile stage', () => {
  it('retries a 5xx and a reset GET, and the login succeeds', async () => {
    const bb = await bitbucketWith({
      '/token': tokens,
      '/2.0/user': (req, res, count) => (count === 1 ? json(res, 503, '<html>Service Unavailable</html>') : user(req, res, count)),
      '/2.0/user/emails': (req, res, count) => {
        if (count === 1) {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 }).write('{"values": [');
          setImmediate(() => res.socket?.destroy());
          return;
        }
        emails(req, res, count);
      },
    });
    const { outcome } = await signIn(bb.strategy());
    expectType(outcome, 'success');
    expect([bb.count('/2.0/user'), bb.count('/2.0/user/emails')]).toEqual([2, 2]);
  });

  it('gives up after `retries` more attempts, with the last answer', async () => {
    const bb = await bitbucketWith({ '/token': tokens, '/2.0/user': (_req, res) => json(res, 500, { type: 'error', error: { message: 'down' } }), '/2.0/user/emails': emails });
    const { error } = expectType((await signIn(bb.strategy({ retries: 1 }))).outcome, 'error');
    expect(error).toMatchObject({ status: 500 });
    expect(bb.count('/2.0/user')).toBe(2);
  });

  it('never retries a 4xx, the token exchange, or anything with retries: 0', async () => {
    const limited = await bitbucketWith({ '/token': tokens, '/2.0/user': (_req, res) => res.writeHead(429, { 'Content-Type': 'text/plain' }).end('Rate limit for this resource has been exceeded'), '/2.0/user/emails': emails });
    expectType((await signIn(limited.strategy())).outcome, 'error');
    expect(limited.count('/2.0/user')).toBe(1);
    await server?.close();

    const token = await bitbucketWith({ '/token': (_req, res) => json(res, 503, '{}') });
    expectType((await signIn(token.strategy())).outcome, 'error');
    expect(token.count('/token')).toBe(1);
    await server?.close();

    const off = await bitbucketWith({ '/token': tokens, '/2.0/user': (_req, res) => json(res, 503, '{}'), '/2.0/user/emails': emails });
    expectType((await signIn(off.strategy({ retries: 0 }))).outcome, 'error');
    expect(off.count('/2.0/user')).toBe(1);
  });

  it('rejects a retries option out of range', () => {
    for (const retries of [-1, 6, 1.5, '2']) {
      expect(() => new Strategy({ ...options, retries } as unknown as StrategyOptions, () => undefined)).toThrow(/options\.retries must be a whole number from 0 to 5/);
    }
  });
});

describe('PKCE by default', () => {
  /** Starts a login with the strategy: the authorize URL and the session that holds its state. */
  async function begin(strategy: Strategy): Promise<{ url: URL; session: Record<string, unknown> }> {
    const session: Record<string, unknown> = {};
    const redirect = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
    return { url: new URL(redirect.url), session };
  }

  async function injectVictimsCode(extra: Partial<StrategyOptions>): Promise<string> {
    bitbucket = await startBitbucketEmulator({ callbackURL: options.callbackURL });
    const strategy = new Strategy({ ...bitbucket.strategyOptions, callbackURL: options.callbackURL, ...extra }, (_a, _r, profile, done) => done(null, { id: profile.id }));
    // The victim starts a login and consents; the attacker steals the code from the callback.
    const victim = await begin(strategy);
    const stolen = new URL(bitbucket.authorize('ada-lovelace', Object.fromEntries(victim.url.searchParams)));
    // The attacker starts a login of their own and finishes it with the victim's code.
    const attacker = await begin(strategy);
    const query = { code: stolen.searchParams.get('code')!, state: attacker.url.searchParams.get('state')! };
    const outcome = await run(strategy, fakeRequest(query, attacker.session));
    return outcome.type === 'error' ? `error:${(outcome.error as TokenError).code}` : outcome.type;
  }

  it('makes an injected code fail with invalid_grant where the provider checks the verifier', async () => {
    expect(await injectVictimsCode({})).toBe('error:invalid_grant');
  });

  it('is what stops it: with pkce: false the attacker is signed in as the victim', async () => {
    expect(await injectVictimsCode({ pkce: false })).toBe('success');
  });
});

describe('a state is consumed once', () => {
  it('lets exactly one of two concurrent callbacks with the same state proceed', async () => {
    // Both callbacks reach the state store before either token exchange has begun: no latency needed.
    bitbucket = await startBitbucketEmulator({ callbackURL: options.callbackURL });
    const strategy = new Strategy({ ...bitbucket.strategyOptions, callbackURL: options.callbackURL }, (_a, _r, profile, done) => done(null, { id: profile.id }));
    for (let round = 0; round < 3; round += 1) {
      const session: Record<string, unknown> = {};
      const redirect = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
      const callback = new URL(bitbucket.authorize('ada-lovelace', Object.fromEntries(new URL(redirect.url).searchParams)));
      const query = { code: callback.searchParams.get('code')!, state: callback.searchParams.get('state')! };
      // Each request has its own copy of the session until it is saved, as with express-session.
      const outcomes = await Promise.all([
        run(strategy, fakeRequest(query, structuredClone(session))),
        run(strategy, fakeRequest(query, structuredClone(session))),
      ]);
      expect(outcomes.map((o) => o.type).sort()).toEqual(['fail', 'success']);
      expect(outcomes.find((o) => o.type === 'fail')).toMatchObject({ status: 403, challenge: { message: 'Invalid authorization request state.' } });
    }
  });
});
