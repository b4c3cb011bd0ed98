import { InternalOAuthError } from 'passport-oauth2';
import { BitbucketAPIError, BitbucketNetworkError, Strategy } from '../lib';
import { Cancellation, send } from '../lib/core/http';
import { ACCESS_TOKEN, expectNoSecrets, options } from './helpers/bitbucket';
import { expectType, signIn } from './helpers/passport';
import { startServer } from './helpers/server';
import { nock } from './helpers/nock';

type Client = {
  get(url: string, token: string, cb: (err: unknown, body?: unknown, res?: { headers: Record<string, unknown> }) => void): void;
  getOAuthAccessToken: (code: unknown, params: unknown, cb: (e: unknown) => void) => void;
};
const clientOf = (strategy: Strategy): Client => (strategy as unknown as { _oauth2: Client })._oauth2;
const get = (client: Client, url: string): Promise<unknown[]> =>
  new Promise((resolve) => client.get(url, ACCESS_TOKEN, (...args) => resolve(args)));

describe('the OAuth2 client\'s get() for apps that call the API themselves', () => {
  it('sends the token in the Authorization header, never in the URL', async () => {
    let path = '';
    nock('https://api.bitbucket.org')
      .get('/2.0/repositories')
      .query(true)
      .matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`)
      .reply(function reply(uri) {
        path = uri;
        return [200, '{"values":[]}', { 'X-OAuth-Scopes': 'account' }];
      });
    const [error, body, response] = await get(clientOf(new Strategy(options, () => undefined)), 'https://api.bitbucket.org/2.0/repositories?role=member');
    expect(error).toBeNull();
    expect(body).toBe('{"values":[]}');
    expect((response as { headers: Record<string, unknown> }).headers['x-oauth-scopes']).toBe('account');
    expect(path).toBe('/2.0/repositories?role=member');
  });

  it('keeps node-oauth\'s { statusCode, data } error contract', async () => {
    nock('https://api.bitbucket.org').get('/2.0/user').reply(401, 'Access token expired.');
    const [error] = await get(clientOf(new Strategy(options, () => undefined)), 'https://api.bitbucket.org/2.0/user');
    expect(error).toEqual({ statusCode: 401, data: 'Access token expired.' });
  });

  it('reports an unreachable or malformed URL as a BitbucketNetworkError', async () => {
    const client = clientOf(new Strategy(options, () => undefined));
    const [unsupported] = await get(client, 'ftp://api.bitbucket.org/2.0/user');
    expect(unsupported).toBeInstanceOf(BitbucketNetworkError);
    expect((unsupported as Error).message).toMatch(/unsupported protocol ftp:/);
    const [malformed] = await get(client, 'not a url');
    expect(malformed).toBeInstanceOf(BitbucketNetworkError);
    expectNoSecrets(malformed);
  });

  it('reports a header Node refuses to send as a BitbucketNetworkError, without sending anything', async () => {
    const scope = nock('https://api.bitbucket.org').get('/2.0/user').reply(200, '{}');
    const client = clientOf(new Strategy(options, () => undefined));
    const [error] = await new Promise<unknown[]>((resolve) =>
      client.get('https://api.bitbucket.org/2.0/user', `${ACCESS_TOKEN}\nX-Injected: yes`, (...args) => resolve(args)),
    );
    expect(error).toBeInstanceOf(BitbucketNetworkError);
    expect((error as Error).message).toMatch(/^GET https:\/\/api\.bitbucket\.org\/2\.0\/user/);
    expect(scope.isDone()).toBe(false);
    expectNoSecrets(error);
    nock.cleanAll();
  });
});

describe('send()', () => {
  it('does not start a request that is already cancelled', async () => {
    const cancel = new Cancellation();
    cancel.cancel(new Error('request aborted'));
    cancel.cancel(new Error('twice'));
    const scope = nock('https://api.bitbucket.org').get('/2.0/user').reply(200, '{}');
    await expect(
      send({ method: 'GET', url: 'https://api.bitbucket.org/2.0/user', headers: {}, what: 'GET /2.0/user', cancel }, { timeout: 1000, maxBytes: 1000 }),
    ).rejects.toThrow(/request aborted/);
    expect(scope.isDone()).toBe(false);
  });

  it('posts a body with its Content-Length', async () => {
    let length: unknown;
    nock('https://bitbucket.org')
      .post('/x', 'a=1')
      .reply(function reply() {
        length = this.req.headers['content-length'];
        return [200, 'ok'];
      });
    const response = await send({ method: 'POST', url: 'https://bitbucket.org/x', headers: {}, body: 'a=1', what: 'POST /x' }, { timeout: 1000, maxBytes: 1000 });
    expect(response.body).toBe('ok');
    expect(length).toBe('3');
  });

  it('sends one Host header and one of each header, the later of two same-named ones winning', async () => {
    const seen: string[][] = [];
    const server = await startServer((req, res) => {
      seen.push(req.rawHeaders);
      res.end('ok');
    });
    try {
      const limits = { timeout: 1000, maxBytes: 1000 };
      await send({ method: 'GET', url: `${server.url}/2.0/user`, headers: { Accept: 'text/plain', accept: 'application/json', 'X-Many': ['a', 'b'], 'X-None': undefined }, what: 'GET' }, limits);
      await send({ method: 'POST', url: `${server.url}/token`, headers: { host: 'bitbucket.example', 'content-length': 99 }, body: 'é', what: 'POST' }, limits);
    } finally {
      await server.close();
    }
    const named = (raw: string[], name: string): Array<string | undefined> =>
      raw.flatMap((value, i) => (i % 2 === 0 && value.toLowerCase() === name ? [raw[i + 1]] : []));
    const [get, post] = seen as [string[], string[]];
    expect(named(get, 'host')).toEqual([server.url.slice('http://'.length)]);
    expect(named(get, 'accept')).toEqual(['application/json']);
    expect(named(get, 'x-many')).toEqual(['a', 'b']);
    expect(named(get, 'x-none')).toEqual([]);
    expect(named(post, 'host')).toEqual(['bitbucket.example']);
    // The body decides its length (2 bytes of UTF-8), whatever a caller said.
    expect(named(post, 'content-length')).toEqual(['2']);
  });

  it('reaches the right path for many distinct URLs (pages beyond the parsed-URL cache)', async () => {
    const server = await startServer((req, res) => res.end(req.url));
    try {
      const bodies = [];
      for (let page = 1; page <= 80; page += 1) {
        const response = await send({ method: 'GET', url: `${server.url}/2.0/user/emails?page=${page}`, headers: {}, what: 'GET' }, { timeout: 1000, maxBytes: 1000 });
        bodies.push(response.body);
      }
      expect(bodies).toEqual(Array.from({ length: 80 }, (_, i) => `/2.0/user/emails?page=${i + 1}`));
    } finally {
      await server.close();
    }
  });
});

describe('error bodies', () => {
  it.each([
    ['an error_description without an error code', '{"error_description":"Something odd"}', 'application/json', 'Something odd'],
    ['a JSON body with no message', '{"type":"error","error":{"detail":"x"}}', 'application/json', undefined],
    ['a long text/plain body', 'x'.repeat(500), 'text/plain', undefined],
    ['an empty body', '', 'text/plain', undefined],
  ])('reads %s', async (_label, body, contentType, expected) => {
    nock('https://api.bitbucket.org').get('/2.0/user').reply(503, body, { 'Content-Type': contentType });
    const strategy = new Strategy({ ...options, skipEmails: true, retries: 0 }, () => undefined);
    const error = await new Promise<unknown>((resolve) => strategy.userProfile(ACCESS_TOKEN, resolve));
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as BitbucketAPIError).bitbucketMessage).toBe(expected);
  });

  it('quotes an error code that is the only message, from the REST API', async () => {
    nock('https://api.bitbucket.org').get('/2.0/user').reply(500, '{"error":"Internal"}');
    const strategy = new Strategy({ ...options, skipEmails: true, retries: 0 }, () => undefined);
    const error = await new Promise<unknown>((resolve) => strategy.userProfile(ACCESS_TOKEN, resolve));
    expect((error as BitbucketAPIError).bitbucketMessage).toBe('Internal');
  });

  it('wraps an error from a replaced OAuth2 client the way passport-oauth2 does', async () => {
    const strategy = new Strategy({ ...options, customHeaders: { 'X-Many': ['a', 'b'] } }, () => undefined);
    clientOf(strategy).getOAuthAccessToken = (_code: unknown, _params: unknown, cb: (e: unknown) => void) => cb({ statusCode: 500, data: 'nope' });
    const outcome = expectType((await signIn(strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(InternalOAuthError);
    expect((outcome.error as Error).message).toBe('Failed to obtain access token');
  });
});
