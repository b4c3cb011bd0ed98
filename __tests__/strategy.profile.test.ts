import {
  BitbucketAPIError,
  BitbucketError,
  BitbucketNetworkError,
  BitbucketResponseError,
  BitbucketTimeoutError,
  Strategy,
  type Profile,
} from '../lib';
import { MAX_RESPONSE_BYTES } from '../lib/core/options';
import { MAX_PAGES as MAX_EMAIL_PAGES } from '../lib/cloud/profile';
import { ACCESS_TOKEN, expectNoSecrets, fixture, options } from './helpers/bitbucket';
import { expectType, signIn } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';
import { until } from './helpers/wait';
import { nock, mockApi, mockToken } from './helpers/nock';

function strategyWith(extra: Record<string, unknown> = {}): { strategy: Strategy; profiles: Profile[] } {
  const profiles: Profile[] = [];
  const strategy = new Strategy({ ...options, ...extra }, (_at, _rt, profile, done) => {
    profiles.push(profile);
    done(null, { id: profile.id });
  });
  return { strategy, profiles };
}

function loadProfile(strategy: Strategy, token = ACCESS_TOKEN): Promise<{ error: unknown; profile: Profile | undefined }> {
  return new Promise((resolve) => strategy.userProfile(token, (error, profile) => resolve({ error, profile })));
}

const email = (address: string, primary = false, confirmed = true): Record<string, unknown> => ({
  email: address,
  is_primary: primary,
  is_confirmed: confirmed,
  type: 'email',
});

describe('userProfile against Bitbucket (nock)', () => {
  it('maps the fixtures into the Passport profile after a full sign-in', async () => {
    mockToken();
    const api = mockApi();
    const { strategy, profiles } = strategyWith();
    const outcome = expectType((await signIn(strategy)).outcome, 'success');
    api.done();
    expect(outcome.user).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}' });
    const profile = profiles[0];
    expect(profile).toMatchObject({
      provider: 'bitbucket',
      id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}',
      accountId: '5c65cab48bcc9e016aeece31',
      username: 'ada-lovelace',
      nickname: 'Ada Lovelace',
      displayName: 'Ada Lovelace',
      profileUrl: 'https://bitbucket.org/%7B0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15%7D/',
      photos: [{ value: expect.stringMatching(/^https:\/\/avatar-management/) as unknown }],
      emails: [{ value: 'ada@example.com', primary: true, verified: true }],
    });
    expect(profile?._raw).toBe(fixture('user.json'));
    expect(profile?._json['account_status']).toBe('active');
  });

  it('signs the user in with no emails when the consumer lacks the Account: Email permission (403)', async () => {
    mockToken();
    mockApi({}, { status: 403, body: fixture('error-scope.json') });
    const { strategy, profiles } = strategyWith();
    expectType((await signIn(strategy)).outcome, 'success');
    expect(profiles[0]?.emails).toEqual([]);
  });

  it('does not request emails with skipEmails', async () => {
    const api = mockApi({}, null);
    const { profile, error } = await loadProfile(strategyWith({ skipEmails: true }).strategy);
    expect(error).toBeNull();
    expect(profile?.emails).toEqual([]);
    api.done();
  });

  // The order itself is orderEmails' (profile.test.ts); here only that the option reaches it.
  it('includes unconfirmed addresses with includeUnverifiedEmails', async () => {
    const body = JSON.stringify({ values: [email('pending@example.com', false, false), email('ok@example.com')] });
    mockApi({}, { body });
    const { profile } = await loadProfile(strategyWith({ includeUnverifiedEmails: true }).strategy);
    expect(profile?.emails.map((e) => [e.value, e.verified])).toEqual([['ok@example.com', true], ['pending@example.com', false]]);
  });

  it('follows next links on the same origin until the last page', async () => {
    nock('https://api.bitbucket.org')
      .get('/2.0/user')
      .reply(200, fixture('user.json'))
      .get('/2.0/user/emails')
      .query({ pagelen: '100' })
      .reply(200, { values: [email('a@example.com')], next: 'https://api.bitbucket.org/2.0/user/emails?pagelen=100&page=2' })
      .get('/2.0/user/emails')
      .query({ pagelen: '100', page: '2' })
      .matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`)
      .reply(200, { values: [email('b@example.com', true)] });
    const { profile, error } = await loadProfile(strategyWith().strategy);
    expect(error).toBeNull();
    expect(profile?.emails.map((e) => e.value)).toEqual(['b@example.com', 'a@example.com']);
  });

  it.each([
    ['another host', 'https://evil.example.com/2.0/user/emails?page=2'],
    ['another scheme', 'http://api.bitbucket.org/2.0/user/emails?page=2'],
    ['another port', 'https://api.bitbucket.org:8443/2.0/user/emails?page=2'],
    ['userinfo', 'https://evil@api.bitbucket.org/2.0/user/emails?page=2'],
    ['a protocol-relative host', '//evil.example.com/2.0/user/emails'],
    ['a loop', 'https://api.bitbucket.org/2.0/user/emails?pagelen=100'],
    ['not a URL', 'http://['],
  ])('refuses a next link to %s, sending the token nowhere', async (_label, next) => {
    nock('https://api.bitbucket.org')
      .get('/2.0/user')
      .reply(200, fixture('user.json'))
      .get('/2.0/user/emails')
      .query({ pagelen: '100' })
      .reply(200, { values: [email('a@example.com')], next });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect(error).toMatchObject({ code: 'BITBUCKET_UNSAFE_PAGINATION' });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it(`stops after ${MAX_EMAIL_PAGES} pages of an endless list`, async () => {
    const scope = nock('https://api.bitbucket.org').get('/2.0/user').reply(200, fixture('user.json'));
    scope
      .get('/2.0/user/emails')
      .query(true)
      .times(MAX_EMAIL_PAGES)
      .reply((uri) => {
        const page = Number(new URL(uri, 'https://api.bitbucket.org').searchParams.get('page') ?? '1');
        return [200, { values: [email(`e${page}@example.com`)], next: `https://api.bitbucket.org/2.0/user/emails?page=${page + 1}` }];
      });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toMatchObject({ code: 'BITBUCKET_UNSAFE_PAGINATION', message: expect.stringMatching(/more than 10 pages/) as unknown });
    scope.done();
  });

  it('reports a 401 from /2.0/user as a BitbucketAPIError with Bitbucket\'s message', async () => {
    mockApi({ status: 401, body: JSON.stringify({ type: 'error', error: { message: 'Access token expired.' } }) });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect(error).toBeInstanceOf(BitbucketError);
    const { InternalOAuthError } = jest.requireActual<typeof import('passport-oauth2')>('passport-oauth2');
    expect(error).toBeInstanceOf(InternalOAuthError);
    expect(error).toMatchObject({
      name: 'BitbucketAPIError',
      code: 'BITBUCKET_API_ERROR',
      status: 401,
      bitbucketMessage: 'Access token expired.',
      message: 'Fetching the user profile failed: Bitbucket answered 401: Access token expired.',
      oauthError: { statusCode: 401, data: expect.stringContaining('Access token expired.') as unknown },
    });
    expectNoSecrets(error);
  });

  it('reports a 429 with a text/plain body, quoting it', async () => {
    nock('https://api.bitbucket.org')
      .get('/2.0/user')
      .reply(200, fixture('user.json'))
      .get('/2.0/user/emails')
      .query(true)
      .reply(429, 'Rate limit for this resource has been exceeded', { 'Content-Type': 'text/plain' });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toMatchObject({ status: 429, bitbucketMessage: 'Rate limit for this resource has been exceeded' });
    expect((error as Error).message).toMatch(/^Fetching the user emails failed: Bitbucket answered 429: Rate limit/);
  });

  it('keeps an error detail that is an object, as the missing-scope 403 sends it', async () => {
    mockApi({ status: 403, body: fixture('error-scope.json') });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toMatchObject({ status: 403, bitbucketMessage: 'Your credentials lack one or more required privilege scopes.' });
  });

  it.each([
    ['not JSON', '<html>oops</html>', /did not answer JSON/],
    ['truncated JSON', '{"uuid": "{abc', /did not answer JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['no uuid', JSON.stringify({ type: 'user', display_name: 'X' }), /has no uuid/],
    ['a uuid that is not a string', JSON.stringify({ type: 'user', uuid: 5 }), /has no uuid/],
    ['a workspace', JSON.stringify({ type: 'workspace', uuid: '{w}', slug: 'acme' }), /is not a user/],
  ])('rejects a user body that is %s', async (_label, body, message) => {
    mockApi({ body });
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect((error as Error).message).toMatch(message);
  });

  it('reports an emails error other than 403 instead of ignoring it', async () => {
    mockApi({}, { status: 500, body: '{"type":"error","error":{"message":"Something went wrong"}}' });
    const { error } = await loadProfile(strategyWith({ retries: 0 }).strategy);
    expect(error).toMatchObject({ status: 500, message: expect.stringMatching(/user emails.*Something went wrong/) as unknown });
  });

  it('reports a 403 on a later emails page as an error', async () => {
    nock('https://api.bitbucket.org')
      .get('/2.0/user')
      .reply(200, fixture('user.json'))
      .get('/2.0/user/emails')
      .query({ pagelen: '100' })
      .reply(200, { values: [], next: 'https://api.bitbucket.org/2.0/user/emails?page=2' })
      .get('/2.0/user/emails')
      .query({ page: '2' })
      .reply(403, fixture('error-scope.json'));
    const { error } = await loadProfile(strategyWith().strategy);
    expect(error).toMatchObject({ status: 403 });
  });

  it('turns the error into the authentication error of the login', async () => {
    mockToken();
    mockApi({ status: 401, body: '{}' });
    const outcome = expectType((await signIn(strategyWith().strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(BitbucketAPIError);
    expect(String(outcome.error)).toBe('BitbucketAPIError: Fetching the user profile failed: Bitbucket answered 401');
  });

  it('leaves the profile out with skipUserProfile', async () => {
    mockToken();
    let profileSeen: unknown = 'unset';
    const strategy = new Strategy({ ...options, skipUserProfile: true }, (_a, _r, profile, done) => {
      profileSeen = profile;
      done(null, {});
    });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(profileSeen).toBeUndefined();
  });
});

describe('userProfile against a real server on 127.0.0.1', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const endpoints = (url: string): Record<string, string> => ({
    userProfileURL: `${url}/2.0/user`,
    userEmailsURL: `${url}/2.0/user/emails`,
  });

  it('requests the user and the emails concurrently: neither answers until both have arrived', async () => {
    const waiting: Array<() => void> = [];
    server = await startServer((req, res) => {
      const answer = (): void => {
        res.setHeader('Content-Type', 'application/json');
        res.end(req.url?.startsWith('/2.0/user/emails') ? fixture('emails.json') : fixture('user.json'));
      };
      waiting.push(answer);
      if (waiting.length === 2) waiting.forEach((f) => f());
    });
    const { profile, error } = await loadProfile(strategyWith({ ...endpoints(server.url), timeout: 2000 }).strategy);
    expect(error).toBeNull();
    expect(profile?.emails).toHaveLength(1);
    expect(server.requests.map((r) => r.url).sort()).toEqual(['/2.0/user', '/2.0/user/emails?pagelen=100']);
    for (const request of server.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
      expect(request.url).not.toContain(ACCESS_TOKEN);
    }
  });

  it('tries a stalled request again until the deadline (2 × timeout on its own), with the limit in the message, and closes the sockets', async () => {
    server = await startServer(() => {
      /* never answers */
    });
    const started = Date.now();
    // The deadline (800 ms) holds the first try (400 ms) and the pause (at most 150 ms), whatever the jitter draws.
    const { error } = await loadProfile(strategyWith({ ...endpoints(server.url), timeout: 400 }).strategy);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(BitbucketTimeoutError);
    expect(error).toMatchObject({ code: 'BITBUCKET_TIMEOUT', limit: 'login', timeout: 800, message: expect.stringMatching(/deadline of 800 ms/) as unknown });
    // 400 ms, a pause, then again until the deadline: the stalled user request was sent twice.
    expect(server.requests.filter((r) => r.url === '/2.0/user')).toHaveLength(2);
    await until(() => server!.openSockets() === 0, 'the stalled sockets to close');
  });

  it.each([
    ['announced by Content-Length', true],
    ['streamed without a length', false],
  ])('refuses a body over the size cap, %s', async (_label, announce) => {
    const big = Buffer.alloc(MAX_RESPONSE_BYTES + 10, 'a');
    server = await startServer((_req, res) => {
      res.writeHead(200, announce ? { 'Content-Length': big.length } : {});
      res.write(big.subarray(0, 600_000));
      res.end(big.subarray(600_000));
    });
    const { error } = await loadProfile(strategyWith({ ...endpoints(server.url), skipEmails: true }).strategy);
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect(error).toMatchObject({
      code: 'BITBUCKET_RESPONSE_TOO_LARGE',
      message: expect.stringMatching(/larger than 1048576 bytes/) as unknown,
    });
  });

  it('reports a connection reset mid-body as a BitbucketNetworkError', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 1000 });
      res.write('{"uuid": "{abc');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const { error } = await loadProfile(strategyWith(endpoints(server.url)).strategy);
    expect(error).toBeInstanceOf(BitbucketNetworkError);
    expect(error).toMatchObject({ code: 'BITBUCKET_NETWORK_ERROR' });
    expectNoSecrets(error);
  });

  it('reports a refused connection as a BitbucketNetworkError with the cause kept', async () => {
    server = await startServer(() => undefined);
    const url = server.url;
    await server.close();
    server = undefined;
    const { error } = await loadProfile(strategyWith(endpoints(url)).strategy);
    expect(error).toBeInstanceOf(BitbucketNetworkError);
    expect((error as Error).message).toMatch(/could not reach Bitbucket \(.*ECONNREFUSED/);
    expect((error as BitbucketNetworkError).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('cancels the emails request when the user request fails', async () => {
    let emailsClosed = false;
    server = await startServer((req, res) => {
      if (req.url === '/2.0/user') {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"type":"error","error":{"message":"Access token expired."}}');
      } else {
        res.on('close', () => {
          emailsClosed = true;
        });
      }
    });
    const { error } = await loadProfile(strategyWith({ ...endpoints(server.url), timeout: 5000 }).strategy);
    expect(error).toMatchObject({ status: 401 });
    await until(() => emailsClosed, 'the emails request to be cancelled');
  });
});
