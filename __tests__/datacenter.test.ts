import { TokenError } from 'passport-oauth2';
import refresh from 'passport-oauth2-refresh';
import {
  BitbucketAPIError,
  BitbucketDataCenterStrategy,
  BitbucketResponseError,
  type DataCenterProfile,
  type DataCenterStrategyOptions,
} from '../lib';
import { absoluteAvatar } from '../lib/datacenter/strategy';
import { startBitbucketDataCenterEmulator, type BitbucketDataCenterEmulator, type DataCenterEmulatorOptions, type EmulatorFault } from '../lib/testing';
import { expectNoSecrets } from './helpers/bitbucket';
import { expectType, fakeRequest, run, type Outcome } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';

const CALLBACK = 'http://127.0.0.1:3000/auth/bitbucket-dc/callback';
let dc: BitbucketDataCenterEmulator | undefined;
let server: TestServer | undefined;
const strategies: BitbucketDataCenterStrategy[] = [];
afterEach(async () => {
  for (const strategy of strategies.splice(0)) strategy.close();
  await dc?.close();
  await server?.close();
  dc = undefined;
  server = undefined;
});

function make(extra: Partial<DataCenterStrategyOptions> = {}, base = dc!.strategyOptions): { strategy: BitbucketDataCenterStrategy; verified: DataCenterProfile[] } {
  const verified: DataCenterProfile[] = [];
  const strategy = new BitbucketDataCenterStrategy({ ...base, callbackURL: CALLBACK, ...extra }, async (_at, _rt, profile) => {
    verified.push(profile);
    return { id: profile.id };
  });
  strategies.push(strategy);
  return { strategy, verified };
}

/** The whole login: the authorize redirect, the emulator's consent for `user`, the callback. */
async function signInAs(strategy: BitbucketDataCenterStrategy, user: string): Promise<{ outcome: Outcome; authorizeURL: URL }> {
  const session: Record<string, unknown> = {};
  const redirect = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
  const authorizeURL = new URL(redirect.url);
  const callback = new URL(dc!.authorize(user, Object.fromEntries(authorizeURL.searchParams)));
  const outcome = await run(strategy, fakeRequest(Object.fromEntries(callback.searchParams), session));
  return { outcome, authorizeURL };
}

async function start(options: DataCenterEmulatorOptions = {}): Promise<BitbucketDataCenterEmulator> {
  dc = await startBitbucketDataCenterEmulator(options);
  return dc;
}

describe('Data Center options', () => {
  const base = { clientID: 'id', clientSecret: 'secret' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no baseURL', {}, /options\.baseURL is required/],
    ['a baseURL with credentials', { baseURL: 'https://u:p@bb.example.com' }, /options\.baseURL is required/],
    ['a baseURL with a query', { baseURL: 'https://bb.example.com/?x=1' }, /options\.baseURL is required/],
    ['an http baseURL', { baseURL: 'http://bb.example.com' }, /options\.baseURL must use https.*allowInsecureHTTP: true/],
    ['a typo of baseURL', { baseUrl: 'https://bb.example.com' }, /options\.baseUrl is not an option: did you mean baseURL\?/],
    ['a project key with a slash', { baseURL: 'https://bb.example.com', projects: ['A/B'] }, /options\.projects must be a non-empty array of project keys/],
    ['a repository without a slug', { baseURL: 'https://bb.example.com', repositories: ['ENG'] }, /options\.repositories must be a non-empty array/],
    ['an avatar size out of range', { baseURL: 'https://bb.example.com', avatarSize: 4 }, /options\.avatarSize must be a whole number of pixels from 16 to 2048/],
    ['a gate with skipUserProfile', { baseURL: 'https://bb.example.com', projects: ['ENG'], skipUserProfile: true }, /cannot be combined with skipUserProfile/],
    ['a missing client secret', { baseURL: 'https://bb.example.com', clientSecret: '' }, /options\.clientSecret is required: use the Client secret of your Bitbucket Data Center incoming application link/],
  ])('rejects %s', (_label, extra, message) => {
    expect(() => new BitbucketDataCenterStrategy({ ...base, ...extra } as unknown as DataCenterStrategyOptions, () => undefined)).toThrow(message);
  });

  it('derives every endpoint from the base URL, context path included, and asks for PUBLIC_REPOS with PKCE', async () => {
    const strategy = new BitbucketDataCenterStrategy({ ...base, baseURL: 'https://example.com/bitbucket/', callbackURL: CALLBACK }, () => undefined);
    strategies.push(strategy);
    expect(strategy.name).toBe('bitbucket-datacenter');
    const redirect = expectType(await run(strategy, fakeRequest({}, {})), 'redirect');
    const url = new URL(redirect.url);
    expect(`${url.origin}${url.pathname}`).toBe('https://example.com/bitbucket/rest/oauth2/latest/authorize');
    expect(url.searchParams.get('scope')).toBe('PUBLIC_REPOS');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toMatch(/\S{16,}/);
  });
});

describe('signing in with Bitbucket Data Center (emulator)', () => {
  it('maps the user into the profile, after whoami and the user by slug, with body client credentials', async () => {
    await start({ contextPath: '/bitbucket' });
    const { strategy, verified } = make();
    const { outcome } = await signInAs(strategy, 'jdoe');
    expect(expectType(outcome, 'success').user).toEqual({ id: '101' });
    const origin = new URL(dc!.baseURL).origin;
    expect(verified[0]).toMatchObject({
      provider: 'bitbucket-datacenter',
      id: '101',
      username: 'jdoe',
      slug: 'jdoe',
      displayName: 'Jane Doe',
      profileUrl: `${dc!.baseURL}/users/jdoe`,
      // Relative, with the context path already in it: made absolute without doubling it.
      photos: [{ value: `${origin}/bitbucket/users/jdoe/avatar.png?s=64&v=1531929290000` }],
      emails: [{ value: 'jdoe@example.com', primary: true, verified: false }],
    });
    expect(verified[0]?._json['name']).toBe('jdoe');
    expect(dc!.stats).toMatchObject({ token: 1, whoami: 1, user: 1, users: 0 });
  });

  it('marks the address verified only with trustEmail, and has none for a user without one', async () => {
    await start({ users: [{ name: 'a', id: 1 }, { name: 'b', id: 2, emailAddress: null }] });
    const trusted = make({ trustEmail: true });
    expectType((await signInAs(trusted.strategy, 'a')).outcome, 'success');
    expect(trusted.verified[0]?.emails).toEqual([{ value: 'a@example.com', primary: true, verified: true }]);
    const none = make();
    expectType((await signInAs(none.strategy, 'b')).outcome, 'success');
    expect(none.verified[0]?.emails).toEqual([]);
  });

  it('finds a user whose slug is not the username through users?filter=, by exact name', async () => {
    await start();
    const { strategy, verified } = make({ avatarSize: 128 });
    expectType((await signInAs(strategy, 'j.smith@corp')).outcome, 'success');
    expect(verified[0]).toMatchObject({ id: '102', username: 'j.smith@corp', slug: 'j.smith_corp' });
    expect(verified[0]?.photos[0]?.value).toContain('s=128');
    expect(dc!.stats).toMatchObject({ user: 1, users: 1 });
  });

  it('reads the username from X-AUSERNAME when whoami answers an empty body', async () => {
    await start({ whoami: 'header' });
    const { strategy, verified } = make();
    expectType((await signInAs(strategy, 'j.smith@corp')).outcome, 'success');
    expect(verified[0]?.username).toBe('j.smith@corp');
  });

  it('fails cleanly when whoami names nobody (a token it does not accept)', async () => {
    await start({ faults: { whoami: { kind: 'status', status: 200, body: '', contentType: 'text/plain' } } });
    const { strategy, verified } = make();
    const { error } = expectType((await signInAs(strategy, 'jdoe')).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketResponseError);
    expect((error as Error).message).toMatch(/who signed in: it named no user/);
    expect(verified).toHaveLength(0);
  });

  it('refuses a deactivated account with a clean 403, before verify', async () => {
    await start();
    const { strategy, verified } = make();
    const failure = expectType((await signInAs(strategy, 'gone')).outcome, 'fail');
    expect(failure).toMatchObject({ status: 403, challenge: { reason: 'inactive' } });
    expect(verified).toHaveLength(0);
  });

  it('gates on projects and repositories the user reaches with their own token, asking for REPO_READ', async () => {
    await start();
    const gated = make({ projects: ['ENG'], repositories: ['INFRA/tools'] });
    const jane = await signInAs(gated.strategy, 'jdoe');
    expect(jane.authorizeURL.searchParams.get('scope')).toBe('REPO_READ');
    expectType(jane.outcome, 'success');
    const john = expectType((await signInAs(gated.strategy, 'j.smith@corp')).outcome, 'fail');
    expect(john).toMatchObject({ status: 403, challenge: { reason: 'access', message: 'Only users who can reach a permitted Bitbucket project or repository may sign in.' } });
    expect(gated.verified.map((p) => p.username)).toEqual(['jdoe']);
    const byRepository = make({ repositories: ['ENG/portal'] });
    expectType((await signInAs(byRepository.strategy, 'jdoe')).outcome, 'success');
    expect(dc!.stats.repository).toBeGreaterThan(0);
  });

  it('says what Data Center answered in the typed error, without the token', async () => {
    await start({ faults: { user: { kind: 'status', status: 500, body: JSON.stringify({ errors: [{ context: null, message: 'Database is down', exceptionName: 'x' }] }) } } });
    const { strategy } = make({ retries: 0 });
    const { error } = expectType((await signInAs(strategy, 'jdoe')).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as Error).message).toBe(`Fetching the Data Center user failed: Bitbucket answered 500: Database is down`);
    expectNoSecrets(error);
  });

  it.each<[string, DataCenterEmulatorOptions, string, RegExp]>([
    ['whoami fails', { faults: { whoami: { kind: 'status', status: 500 } } }, 'jdoe', /Asking Bitbucket Data Center who signed in failed: Bitbucket answered 500/],
    ['the user lookup fails', { faults: { user: { kind: 'status', status: 502 } } }, 'jdoe', /Fetching the Data Center user failed: Bitbucket answered 502/],
    ['the filter fails', { faults: { users: { kind: 'status', status: 500 } } }, 'j.smith@corp', /Finding the Data Center user failed: Bitbucket answered 500/],
    ['the gate fails', { faults: { project: { kind: 'status', status: 500 } } }, 'jdoe', /Checking access to a Data Center project or repository failed/],
  ])('is a typed error when %s', async (_label, options, user, message) => {
    await start(options);
    const { strategy, verified } = make({ retries: 0, projects: ['ENG'] });
    const { error } = expectType((await signInAs(strategy, user)).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as Error).message).toMatch(message);
    expect(verified).toHaveLength(0);
  });

  it('is an error when neither the slug nor the filter finds the user whoami named', async () => {
    await start({ faults: { users: { kind: 'status', status: 200, body: JSON.stringify({ size: 0, isLastPage: true, values: [] }) } } });
    const { error } = expectType((await signInAs(make().strategy, 'j.smith@corp')).outcome, 'error');
    expect((error as Error).message).toMatch(/no user has the name whoami gave/);
  });

  it('passes token errors through as TokenErrors, and a wrong secret is invalid_client', async () => {
    await start();
    const { strategy } = make({}, { ...dc!.strategyOptions, clientSecret: 'wrong-secret-0123456789' });
    const { error } = expectType((await signInAs(strategy, 'jdoe')).outcome, 'error');
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toMatchObject({ code: 'invalid_client' });
    expect(JSON.stringify(error)).not.toContain('wrong-secret-0123456789');
  });

  it('refreshes through passport-oauth2-refresh too, which rebuilds the client with body authentication', async () => {
    await start();
    let refreshToken = '';
    const strategy = new BitbucketDataCenterStrategy({ ...dc!.strategyOptions, callbackURL: CALLBACK }, (_at, rt, profile, done) => {
      refreshToken = rt;
      done(null, { id: profile.id });
    });
    strategies.push(strategy);
    expectType((await signInAs(strategy, 'jdoe')).outcome, 'success');
    refresh.use('dc-refresh', strategy);
    const renewed = await new Promise<string | undefined>((resolve, reject) =>
      refresh.requestNewAccessToken('dc-refresh', refreshToken, (error, accessToken) => (error ? reject(error as Error) : resolve(accessToken))),
    );
    expect(renewed).toMatch(/\S{20,}/);
  });

  it('refuses a callback whose parameters are not single strings, before anything else', async () => {
    await start();
    const { strategy } = make();
    const outcome = await run(strategy, fakeRequest({ code: ['a', 'b'] as unknown as string, state: 's' }, {}));
    expect(outcome).toMatchObject({ type: 'fail', status: 400 });
    expect(dc!.stats.token).toBe(0);
  });

  it('asks for whoami and the gate at once, then the user', async () => {
    const order: string[] = [];
    let pending: Array<() => void> = [];
    server = await startServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      order.push(path);
      const answer = (): void => {
        if (path.endsWith('/whoami')) res.end('jdoe');
        else if (path.includes('/users/')) res.end(JSON.stringify({ id: 7, name: 'jdoe', slug: 'jdoe', active: true }));
        else res.end(JSON.stringify({ key: 'ENG', id: 1 }));
      };
      pending.push(answer);
      // whoami and the project check must both arrive before either is answered.
      if (path.endsWith('/whoami') || path.includes('/projects/')) {
        if (pending.length === 2) {
          pending.forEach((a) => a());
          pending = [];
        }
      } else {
        answer();
        pending = [];
      }
    });
    const strategy = new BitbucketDataCenterStrategy({ baseURL: server.url, allowInsecureHTTP: true, clientID: 'i', clientSecret: 's', projects: ['ENG'] }, () => undefined);
    strategies.push(strategy);
    const profile = await new Promise<DataCenterProfile | undefined>((resolve, reject) => strategy.userProfile('token-0123456789', (e, p) => (e ? reject(e) : resolve(p))));
    expect(profile?.id).toBe('7');
    expect(order.slice(0, 2).sort()).toEqual(['/plugins/servlet/applinks/whoami', '/rest/api/latest/projects/ENG']);
    expect(order[2]).toBe('/rest/api/latest/users/jdoe');
  });
});

describe('Data Center under faults', () => {
  const kinds: Array<[EmulatorFault, string]> = [
    [{ kind: 'stall' }, 'BITBUCKET_TIMEOUT'],
    [{ kind: 'reset' }, 'BITBUCKET_NETWORK_ERROR'],
    [{ kind: 'drip', intervalMs: 20 }, 'BITBUCKET_TIMEOUT'],
    [{ kind: 'oversize' }, 'BITBUCKET_RESPONSE_TOO_LARGE'],
  ];
  const cases = (['token', 'whoami', 'user', 'project'] as const).flatMap((endpoint) =>
    kinds.map(([fault, code]) => [`${endpoint}: ${fault.kind}`, endpoint, fault, code] as const),
  );

  it.each(cases)('ends a login whose %s cleanly, with a typed error and no secret', async (_label, endpoint, fault, code) => {
    await start({ faults: { [endpoint]: fault } });
    const { strategy, verified } = make({ timeout: 300, retries: 0, projects: ['ENG'] });
    const { error } = expectType((await signInAs(strategy, 'jdoe')).outcome, 'error');
    expect(error).toMatchObject({ code });
    expect(verified).toHaveLength(0);
    expectNoSecrets(error);
  });
});

describe('absoluteAvatar', () => {
  it.each([
    ['https://www.gravatar.com/avatar/x?s=64', 'https://bb.example.com', 'https://www.gravatar.com/avatar/x?s=64'],
    ['/users/jdoe/avatar.png?s=64', 'https://bb.example.com', 'https://bb.example.com/users/jdoe/avatar.png?s=64'],
    ['/users/jdoe/avatar.png?s=64', 'https://example.com/bitbucket', 'https://example.com/bitbucket/users/jdoe/avatar.png?s=64'],
    ['/bitbucket/users/jdoe/avatar.png', 'https://example.com/bitbucket', 'https://example.com/bitbucket/users/jdoe/avatar.png'],
    ['users/jdoe/avatar.png', 'https://example.com/bitbucket', 'https://example.com/bitbucket/users/jdoe/avatar.png'],
  ])('makes %s absolute against %s', (avatar, base, expected) => {
    expect(absoluteAvatar(avatar, base)).toBe(expected);
  });

  it('has none without an avatarUrl', () => {
    expect(absoluteAvatar(undefined, 'https://bb.example.com')).toBeUndefined();
  });
});
