import { BitbucketDataCenterStrategy, BitbucketError, Strategy, type DataCenterStrategyOptions, type StrategyOptions } from '../lib';
import { expectType, fakeRequest, run, signIn } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';
import { createServer, type AddressInfo } from 'node:net';
import { callbackify } from 'node:util';
import { runInNewContext } from 'node:vm';

// Options the strategy would have dropped or misread, answers and verify results it would have
// taken for a login, and echoes it would have repeated: each is a refusal or a typed error. Every
// login runs against a server on 127.0.0.1 that the test starts and stops.

const CALLBACK = 'http://127.0.0.1:3000/cb';
const ACCESS_TOKEN = 'at/0123456789/abcdef';
const CLOUD_USER = { type: 'user', uuid: '{u-1}', account_id: 'a-1', display_name: 'Ada' };
const DC = { baseURL: 'https://bb.example.com', clientID: 'dc-client', clientSecret: 'dc-secret-0123456789' };
const DC_USER = { id: 101, name: 'jdoe', slug: 'jdoe', displayName: 'Jane Doe', active: true };

type Answer = { status?: number; body: unknown; headers?: Record<string, string> };
type Done = (err: null, user: object) => void;
type Route = Answer | ((authorization: string) => Answer);

const servers: TestServer[] = [];
const strategies: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const strategy of strategies.splice(0)) strategy.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** `routes` by path; tokens at any other `…/token` or `…/access_token`; 404 elsewhere. */
async function bitbucket(routes: Record<string, Route>): Promise<TestServer> {
  const server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const route = routes[path];
    const answer: Answer = route === undefined && /\/(access_)?token$/.test(path)
      ? { body: { access_token: ACCESS_TOKEN, token_type: 'bearer', refresh_token: 'rt-0123456789abcdef' } }
      : typeof route === 'function' ? route(String(req.headers.authorization)) : (route ?? { status: 404, body: { errors: [{ message: 'Not found.' }] } });
    const text = typeof answer.body === 'string';
    res.writeHead(answer.status ?? 200, { 'Content-Type': text ? 'text/plain' : 'application/json', ...answer.headers });
    res.end(text ? (answer.body as string) : JSON.stringify(answer.body));
  });
  servers.push(server);
  return server;
}

const track = <S extends { close(): void }>(strategy: S): S => (strategies.push(strategy), strategy);
const verifyUser = async (_a: string, _r: string, profile: { id: string }): Promise<{ id: string }> => ({ id: profile.id });

function cloud(s: TestServer, extra: Record<string, unknown> = {}, verify: unknown = verifyUser): Strategy {
  const base = { clientID: 'key', clientSecret: 'secret-0123456789', callbackURL: CALLBACK, retries: 0, skipEmails: true };
  const endpoints = { authorizationURL: `${s.url}/site/oauth2/authorize`, tokenURL: `${s.url}/site/oauth2/access_token` };
  const urls = { userProfileURL: `${s.url}/2.0/user`, userWorkspacesURL: `${s.url}/2.0/user/workspaces` };
  return track(new Strategy({ ...base, ...endpoints, ...urls, ...extra } as StrategyOptions, verify as never));
}

async function dcServer(user: unknown = DC_USER): Promise<TestServer> {
  return bitbucket({ '/plugins/servlet/applinks/whoami': { body: 'jdoe' }, '/rest/api/latest/users/jdoe': { body: user } });
}
function dc(s: TestServer, extra: Record<string, unknown> = {}, verify: unknown = verifyUser): BitbucketDataCenterStrategy {
  const options = { ...DC, baseURL: s.url, allowInsecureHTTP: true, callbackURL: CALLBACK, retries: 0, ...extra } as DataCenterStrategyOptions;
  return track(new BitbucketDataCenterStrategy(options, verify as never));
}

describe('options are read as given', () => {
  it('takes a gate on the options object\'s prototype: a Data Center project nobody can reach signs nobody in', async () => {
    const s = await dcServer(); // projects/ENG answers 404
    const options = Object.assign(Object.create({ projects: ['ENG'] }) as object, { ...DC, baseURL: s.url, allowInsecureHTTP: true, callbackURL: CALLBACK });
    const { outcome } = await signIn(track(new BitbucketDataCenterStrategy(options as DataCenterStrategyOptions, verifyUser)));
    expect(expectType(outcome, 'fail').challenge).toMatchObject({ reason: 'access' });
  });

  it('takes a gate behind a getter of a configuration class: a non-member of the workspace is refused', async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } }); // the permission request answers 404
    class Settings {
      clientID = 'key';
      clientSecret = 'secret-0123456789';
      callbackURL = CALLBACK;
      tokenURL = `${s.url}/site/oauth2/access_token`;
      userProfileURL = `${s.url}/2.0/user`;
      userWorkspacesURL = `${s.url}/2.0/user/workspaces`;
      skipEmails = true;
      get workspaces(): string[] {
        return ['acme'];
      }
    }
    const { outcome } = await signIn(track(new Strategy(new Settings(), verifyUser)));
    expect(expectType(outcome, 'fail').challenge).toMatchObject({ reason: 'workspace' });
    expect(s.requests.map((r) => r.url)).toContain('/2.0/user/workspaces/acme/permission');
  });

  it('reads each option once: a getter that changes its answer cannot pass the checks and then drop the gate', async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } }); // the permission request answers 404
    const options = { clientID: 'key', clientSecret: 'secret-0123456789', callbackURL: CALLBACK, tokenURL: `${s.url}/site/oauth2/access_token`,
      userProfileURL: `${s.url}/2.0/user`, userWorkspacesURL: `${s.url}/2.0/user/workspaces`, skipEmails: true };
    let reads = 0;
    Object.defineProperty(options, 'workspaces', { enumerable: true, get: () => (++reads === 1 ? ['acme'] : undefined) });
    const { outcome } = await signIn(track(new Strategy(options, verifyUser)));
    expect(expectType(outcome, 'fail').challenge).toMatchObject({ reason: 'workspace' });
    expect(reads).toBe(1);
  });

  it('refuses a misspelt option behind a getter of a configuration class, and takes its methods as no options', () => {
    class Settings {
      clientID = 'key';
      clientSecret = 'secret';
      get workspace(): string[] {
        return ['acme'];
      }
      describe(): string {
        return 'settings';
      }
    }
    expect(() => new Strategy(new Settings() as StrategyOptions, verifyUser)).toThrow(/options\.workspace is not an option/);
    class Fine {
      clientID = 'key';
      clientSecret = 'secret';
      describe(): string {
        return 'settings';
      }
    }
    expect(() => track(new Strategy(new Fine(), verifyUser))).not.toThrow();
  });

  it("ignores what a library added to Object.prototype: it is no option of the app's", async () => {
    const polluted = Object.prototype as Record<string, unknown>;
    polluted['includeUnverifiedEmails'] = true;
    polluted['workspace'] = ['acme'];
    try {
      const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER }, '/2.0/user/emails': { body: { values: [{ email: 'x@example.com', is_primary: true, is_confirmed: false }] } } });
      const verify = async (_a: string, _r: string, profile: { id: string; emails?: unknown }): Promise<object> => ({ id: profile.id, emails: profile.emails });
      const { outcome } = await signIn(cloud(s, { skipEmails: false, userEmailsURL: `${s.url}/2.0/user/emails` }, verify));
      expect(expectType(outcome, 'success').user).toEqual({ id: '{u-1}', emails: [] });
      expect(s.requests.map((r) => r.url)).toContain('/2.0/user/emails?pagelen=100');
    } finally {
      delete polluted['includeUnverifiedEmails'];
      delete polluted['workspace'];
    }
  });

  it('takes a gate a Proxy answers for, though the Proxy lists no such key', async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } }); // the permission request answers 404
    const base = { clientID: 'key', clientSecret: 'secret-0123456789', callbackURL: CALLBACK, tokenURL: `${s.url}/site/oauth2/access_token`,
      userProfileURL: `${s.url}/2.0/user`, userWorkspacesURL: `${s.url}/2.0/user/workspaces`, skipEmails: true };
    const lazy = new Proxy(base as Record<string, unknown>, { get: (target, key) => (key === 'workspaces' ? ['acme'] : target[key as string]) });
    const { outcome } = await signIn(track(new Strategy(lazy as unknown as StrategyOptions, verifyUser)));
    expect(expectType(outcome, 'fail').challenge).toMatchObject({ reason: 'workspace' });
  });

  it('takes options with hidden methods (node-config adds get and has) and options made in another realm', () => {
    const options: Record<string, unknown> = { clientID: 'key', clientSecret: 'secret-0123456789' };
    for (const name of ['get', 'has']) Object.defineProperty(options, name, { value: () => undefined, enumerable: false });
    expect(() => track(new Strategy(Object.freeze(options) as unknown as StrategyOptions, verifyUser))).not.toThrow();
    const other = runInNewContext('({ clientID: "key", clientSecret: "secret-0123456789" })') as StrategyOptions;
    expect(() => track(new Strategy(other, verifyUser))).not.toThrow();
  });

  it("ignores what a library added to Object.prototype in the options' own realm", async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } });
    const own = { clientID: 'key', clientSecret: 'secret-0123456789', callbackURL: CALLBACK, tokenURL: `${s.url}/t/access_token`, userProfileURL: `${s.url}/2.0/user`, skipEmails: true };
    const options = runInNewContext(`Object.prototype.customHeaders = { 'X-Polluted': 'yes' }; (${JSON.stringify(own)})`) as StrategyOptions;
    expectType((await signIn(track(new Strategy(options, verifyUser)))).outcome, 'success');
    expect(s.requests.find((r) => r.url === '/2.0/user')!.headers).not.toHaveProperty('x-polluted');
  });

  it('takes options whose prototype chain ends in a null-prototype object of the app (not Object.prototype)', () => {
    const config = Object.assign(Object.create(null) as object, { clientID: 'key', clientSecret: 'secret-0123456789' });
    expect(() => track(new Strategy(Object.create(config) as StrategyOptions, verifyUser))).not.toThrow();
    class Config {
      get clientID(): string {
        return 'key';
      }
      get clientSecret(): string {
        return 'secret-0123456789';
      }
    }
    Object.setPrototypeOf(Config.prototype, null);
    expect(() => track(new Strategy(new Config(), verifyUser))).not.toThrow();
    // Its names are checked too: a misspelt gate there is refused, not ignored.
    const misspelt = Object.assign(Object.create(null) as object, { clientID: 'key', clientSecret: 'secret-0123456789', workspace: ['acme'] });
    expect(() => new Strategy(Object.create(misspelt) as StrategyOptions, verifyUser)).toThrow(/options\.workspace is not an option/);
  });

  it('refuses an unknown option inherited from a prototype', () => {
    const options = Object.assign(Object.create({ workspace: ['acme'] }) as object, { clientID: 'key', clientSecret: 'secret' });
    expect(() => new Strategy(options as StrategyOptions, verifyUser)).toThrow(/options\.workspace is not an option/);
  });

  it.each(['timeout', 'retries', 'userAgent', 'customHeaders', 'callbackURLs'])('refuses null for %s, which has a default (null is no value)', (name) => {
    expect(() => new BitbucketDataCenterStrategy({ ...DC, [name]: null } as never, verifyUser)).toThrow(new RegExp(`options\\.${name} `));
    expect(() => new Strategy({ clientID: 'key', clientSecret: 'secret', [name]: null } as never, verifyUser)).toThrow(TypeError);
  });

  it('refuses minimumWorkspaceRole: null, rather than reading it as member', () => {
    const options = { clientID: 'key', clientSecret: 'secret', workspaces: ['acme'], minimumWorkspaceRole: null };
    expect(() => new Strategy(options as never, verifyUser)).toThrow(/options\.minimumWorkspaceRole must be/);
  });

  it.each<[string, object]>([
    ['a CR/LF in a custom header', { customHeaders: { 'X-Trace': 'a\r\nInjected: 1' } }],
    ['a custom header name with a space', { customHeaders: { 'Bad Name': 'x' } }],
    ['a CR/LF in the user agent', { userAgent: 'app\r\nX-Injected: 1' }],
  ])('refuses %s when the strategy is made, naming the option and not the value', (_label, extra) => {
    for (const make of [() => new Strategy({ clientID: 'key', clientSecret: 'secret', ...extra }, verifyUser), () => new BitbucketDataCenterStrategy({ ...DC, ...extra }, verifyUser)]) {
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/options\.(customHeaders|userAgent) must be/);
      expect(make).not.toThrow(/Injected/);
    }
  });

  it.each(['Authorization', 'host', 'Content-Length', 'transfer-encoding', 'Connection', 'Upgrade'])('refuses a %s among customHeaders: the strategy sets it, or it frames the request', (name) => {
    expect(() => new Strategy({ clientID: 'key', clientSecret: 'secret', customHeaders: { [name]: name === 'Content-Length' ? '12' : 'x' } }, verifyUser)).toThrow(
      /options\.customHeaders must be .*without Authorization, Host or a framing header/,
    );
  });

  it.each<[string, (s: string) => object]>([
    ['a percent-encoded secret in authorizationURL', (s) => ({ authorizationURL: `${s}/site/oauth2/authorize?k=%73ecret-0123456789` })],
    ['a twice-encoded secret in a path of tokenURL', (s) => ({ tokenURL: `${s}/%2573ecret-0123456789/token` })],
    ['the secret in callbackURL', () => ({ callbackURL: `${CALLBACK}?k=secret-0123456789` })],
    ['the secret in callbackURLs', () => ({ callbackURLs: [CALLBACK, `${CALLBACK}?k=secret-0123456789`] })],
    ['the secret in userWorkspacesURL', (s) => ({ workspaces: ['acme'], userWorkspacesURL: `${s}/2.0/user/workspaces?k=secret-0123456789` })],
    ['the secret in a custom header', () => ({ customHeaders: { 'X-Client': ['a', 'secret-0123456789'] } })],
  ])('refuses %s when the strategy is made, naming the option', async (_label, extra) => {
    const s = await bitbucket({});
    expect(() => cloud(s, extra(s.url) as Record<string, unknown>)).toThrow(/^passport-bitbucket-auth: options\.\w+ holds the client secret/);
    expect(() => cloud(s, extra(s.url) as Record<string, unknown>)).not.toThrow(/secret-0123456789/);
  });

  it('refuses the secret in a custom header of options made in another realm (its header object is plain there)', () => {
    const options = runInNewContext(`({ clientID: 'key', clientSecret: 'secret-0123456789', customHeaders: { 'X-Client': 'secret-0123456789' } })`) as StrategyOptions;
    expect(() => new Strategy(options, verifyUser)).toThrow(/^passport-bitbucket-auth: options\.customHeaders holds the client secret/);
  });

  it('refuses a Data Center baseURL that holds the client secret', () => {
    expect(() => new BitbucketDataCenterStrategy({ ...DC, baseURL: `https://bb.example.com/${DC.clientSecret}` }, verifyUser)).toThrow(/options\.baseURL holds the client secret/);
  });

  it('takes a custom header set to undefined as not given, and sends the others and the default User-Agent', async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } });
    const strategy = cloud(s, { customHeaders: { 'X-Trace': 'on', 'X-Unset': undefined, 'User-Agent': undefined } });
    expectType((await signIn(strategy)).outcome, 'success');
    const asked = s.requests.find((r) => r.url === '/2.0/user')!;
    expect(asked.headers).toMatchObject({ 'x-trace': 'on', 'user-agent': expect.stringMatching(/^passport-bitbucket-auth\//) as unknown });
    expect(asked.headers).not.toHaveProperty('x-unset');
  });

  it('asks for the permission in the path of a userWorkspacesURL that has a query', async () => {
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER } });
    const strategy = cloud(s, { workspaces: ['acme'], userWorkspacesURL: `${s.url}/2.0/user/workspaces?region=eu` });
    expect(expectType((await signIn(strategy)).outcome, 'fail').challenge).toMatchObject({ reason: 'workspace' });
    expect(s.requests.map((r) => r.url)).toContain('/2.0/user/workspaces/acme/permission?region=eu');
  });
});

describe('answers and results that are no login', () => {
  it.each([['missing', undefined], ['the string "false"', 'false'], ['null', null]])('refuses a Data Center user whose active flag is %s', async (_label, active) => {
    const { outcome } = await signIn(dc(await dcServer({ ...DC_USER, active })));
    expect(expectType(outcome, 'error').error).toMatchObject({ code: 'BITBUCKET_INVALID_RESPONSE', message: expect.stringMatching(/whether the account is active/) as unknown });
  });

  it('makes done(null, true) an error, as resolving with true is', async () => {
    const verify = (_a: string, _r: string, _p: unknown, done: (e: null, u: unknown) => void): void => done(null, true);
    const { outcome } = await signIn(dc(await dcServer(), {}, verify));
    expect(expectType(outcome, 'error').error).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/gave true/) as unknown });
  });

  it.each<[string, unknown, string]>([
    ['the user', (_a: string, _r: string, p: { id: string }) => ({ id: p.id }), 'success'],
    ['false', (_a: string) => false, 'fail'],
  ])('takes a plain value from a verify function without done as its answer (%s), instead of waiting for ever', async (_label, verify, type) => {
    const { outcome } = await signIn(dc(await dcServer(), {}, verify));
    expect(outcome.type).toBe(type);
    if (outcome.type === 'success') expect(outcome.user).toEqual({ id: '101' });
  });

  it.each<[string, unknown]>([
    ['rest arguments', (...args: unknown[]): void => void setTimeout(() => (args[args.length - 1] as Done)(null, { id: 'later' }), 5)],
    ['util.callbackify', callbackify(async (..._args: unknown[]) => ({ id: 'later' }))],
    ['a done with a default value', (_a: string, _r: string, _p: unknown, done: Done = () => undefined): void => void setTimeout(() => done(null, { id: 'later' }), 5)],
    ['a done read from arguments', function (_a: string, _r: string, _p: unknown): void {
      const done = arguments[3] as Done; // eslint-disable-line prefer-rest-params
      setTimeout(() => done(null, { id: 'later' }), 5);
    }],
  ])('waits for a done it does not declare when the verify function returns nothing (%s)', async (_label, verify) => {
    const { outcome } = await signIn(dc(await dcServer(), {}, verify));
    expect(expectType(outcome, 'success').user).toEqual({ id: 'later' });
  });

  it('waits for that done past the login deadline: the deadline is for Bitbucket, not for the app', async () => {
    const verify = (...args: unknown[]): void => void setTimeout(() => (args[args.length - 1] as Done)(null, { id: 'slow' }), 450);
    const { outcome } = await signIn(dc(await dcServer(), { timeout: 100 }, verify));
    expect(expectType(outcome, 'success').user).toEqual({ id: 'slow' });
  });

  it('takes the user a verify function of no declared parameters returns (a test double), rather than waiting for done', async () => {
    const verify = jest.fn((..._args: unknown[]) => ({ id: 'returned' }));
    const { outcome } = await signIn(dc(await dcServer(), {}, verify));
    expect(expectType(outcome, 'success').user).toEqual({ id: 'returned' });
  });

  it.each([['a state and no code', { state: 'forged' }], ['an empty code', { code: '', state: 'forged' }], ['a code of nothing', { code: '' }]])(
    'refuses a request to the callback URL with %s (it would start a new authorization), and the login under way still signs in', async (_label, forged) => {
      const strategy = cloud(await bitbucket({ '/2.0/user': { body: CLOUD_USER } }));
      const session: Record<string, unknown> = {};
      const state = new URL(expectType(await run(strategy, { ...fakeRequest({}, session), url: '/login' }), 'redirect').url).searchParams.get('state')!;
      for (const url of ['/cb?x=1', '/CB/']) { // Express matches routes ignoring case and a trailing slash
        const outcome = expectType(await run(strategy, { ...fakeRequest(forged, session), url }), 'fail');
        expect(outcome).toMatchObject({ status: 400, challenge: { message: 'Malformed authorization response from Bitbucket.' } });
      }
      expectType(await run(strategy, { ...fakeRequest({ code: 'the-code', state }, session), url: '/cb' }), 'success');
    });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['behind a proxy that strips a prefix from the path', { callbackURL: 'https://app.example.com/app/auth/bitbucket/callback' }, '/auth/bitbucket', '/auth/bitbucket/callback'],
    ['a relative callbackURL without a leading /', { callbackURL: 'callback' }, '/auth/login', '/auth/callback'],
    ['a callbackURLs entry', { callbackURLs: ['https://app.example.com/auth/bitbucket/admin'] }, '/auth/bitbucket', '/auth/bitbucket/admin'],
    ['at the root path', { callbackURL: 'https://app.example.com/' }, '/login', '/?x'],
  ])('refuses ?state=forged at the callback route %s, and the real login still signs in', async (_label, extra, startPath, callbackPath) => {
    const strategy = cloud(await bitbucket({ '/2.0/user': { body: CLOUD_USER } }), extra);
    const session: Record<string, unknown> = {};
    const state = new URL(expectType(await run(strategy, { ...fakeRequest({}, session), url: startPath }), 'redirect').url).searchParams.get('state')!;
    expectType(await run(strategy, { ...fakeRequest({ state: 'forged' }, session), url: callbackPath }), 'fail');
    expectType(await run(strategy, { ...fakeRequest({ code: 'the-code', state }, session), url: callbackPath }), 'success');
  });

  it('refuses nothing without a callbackURL: the callback path is not known, and a form that starts a sign-in may have a state field', async () => {
    const strategy = cloud(await bitbucket({}), { callbackURL: undefined });
    expectType(await run(strategy, { ...fakeRequest({}), method: 'POST', url: '/auth/bitbucket/callback', body: { state: 'CA' } } as ReturnType<typeof fakeRequest>), 'redirect');
  });

  it.each<[string, (s: TestServer) => { close(): void }, Record<string, unknown>]>([
    ['a form with a state field (an address)', (s) => cloud(s), { body: { email: 'a@example.com', state: 'CA' } }],
    ['a form with an empty invite code', (s) => cloud(s), { body: { email: 'a@example.com', code: '' } }],
    ['Data Center, a form with a state field', (s) => dc(s), { body: { state: 'NY' } }],
    ['state: false and the app\'s own ?state=', (s) => cloud(s, { state: false }), { query: { state: 'return-to-dashboard' } }],
  ])('still starts a sign-in elsewhere than the callback URL: %s', async (_label, make, extra) => {
    const strategy = make(await bitbucket({})) as Strategy;
    const req = { ...fakeRequest({}, {}), method: 'POST', url: '/signup', ...extra };
    expectType(await run(strategy, req as ReturnType<typeof fakeRequest>), 'redirect');
  });

  it('still starts a sign-in at the callback URL with state: false (no state to replace), and one with no parameters at all', async () => {
    const s = await bitbucket({});
    expectType(await run(cloud(s, { state: false }), { ...fakeRequest({ state: 'mine' }), url: '/cb' }), 'redirect');
    expectType(await run(cloud(s), { ...fakeRequest({}), url: '/cb' }), 'redirect'); // one route for both: a bare request is a start
  });

  it.each(['mac', 'N_A', 42])('refuses a token whose token_type is %p, not bearer (RFC 6749 §7.1)', async (type) => {
    const token = { body: { access_token: 'at-0123456789abcdef', token_type: type, refresh_token: 'rt-0123456789abcdef' } };
    const s = await bitbucket({ '/site/oauth2/access_token': token, '/2.0/user': { body: CLOUD_USER } });
    const { error } = expectType((await signIn(cloud(s))).outcome, 'error');
    expect(error).toMatchObject({ code: 'BITBUCKET_INVALID_RESPONSE', message: expect.stringMatching(/token_type other than bearer/) as unknown });
    expect(JSON.stringify([(error as Error).message, (error as BitbucketError).oauthError])).not.toContain('0123456789abcdef');
  });

  it('takes a token_type of Bearer in any case, or none', async () => {
    for (const token_type of ['Bearer', 'BEARER', undefined]) {
      const s = await bitbucket({ '/site/oauth2/access_token': { body: { access_token: 'at-0123456789abcdef', token_type } }, '/2.0/user': { body: CLOUD_USER } });
      expectType((await signIn(cloud(s))).outcome, 'success');
    }
  });

  it.each([1e13, -3600, 0, 1.5, '3600'])('refresh(): an expires_in of %p is no lifetime (no expiresIn, no expiresAt)', async (expiresIn) => {
    const token = { body: { access_token: 'at-0123456789abcdef', token_type: 'bearer', refresh_token: 'rt-new-0123456789', expires_in: expiresIn } };
    const tokens = await cloud(await bitbucket({ '/site/oauth2/access_token': token })).refresh('rt-old-0123456789');
    expect([tokens.expiresIn, tokens.expiresAt, tokens.params.expires_in]).toEqual([undefined, undefined, expiresIn]);
  });

  it('refresh(): takes an expires_in of whole seconds as the lifetime', async () => {
    const token = { body: { access_token: 'at-0123456789abcdef', token_type: 'bearer', refresh_token: 'rt-new-0123456789', expires_in: 7200 } };
    const before = Date.now();
    const tokens = await cloud(await bitbucket({ '/site/oauth2/access_token': token })).refresh('rt-old-0123456789');
    expect(tokens.expiresIn).toBe(7200);
    expect(tokens.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 7_200_000);
  });

  it('finds the user whoami named on a later page of users?filter= (the filter matches every name containing it)', async () => {
    const others = Array.from({ length: 100 }, (_, i) => ({ id: 200 + i, name: `aj.smith@corp${i}`, slug: `aj.smith_corp${i}`, active: true }));
    const all = [...others, { id: 101, name: 'j.smith@corp', slug: 'j.smith_corp', displayName: 'J', active: true }];
    const starts: number[] = [];
    const s = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const start = Number(url.searchParams.get('start') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 25);
      if (url.pathname === '/rest/api/latest/users') starts.push(start);
      const last = start + limit >= all.length;
      const body = url.pathname.endsWith('/token') ? { access_token: ACCESS_TOKEN, token_type: 'bearer' }
        : url.pathname === '/plugins/servlet/applinks/whoami' ? 'j.smith@corp'
        : url.pathname === '/rest/api/latest/users' ? { size: 0, limit, start, isLastPage: last, values: all.slice(start, start + limit), ...(last ? {} : { nextPageStart: start + limit }) }
        : { errors: [{ message: 'Not found.' }] };
      res.writeHead(typeof body === 'object' && 'errors' in body ? 404 : 200, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    servers.push(s);
    expect(expectType((await signIn(dc(s))).outcome, 'success').user).toEqual({ id: '101' });
    expect(starts).toEqual([0, 100]);
  });

  it.each<[string, (start: number) => number, number[]]>([
    ['that never ends: ten', (start) => start + 100, Array.from({ length: 10 }, (_, i) => i * 100)],
    ['whose nextPageStart goes back: one', () => 0, [0]],
  ])('reads of users?filter= pages %s, and no page twice', async (_label, nextStart, read) => {
    const starts: number[] = [];
    const s = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const start = Number(url.searchParams.get('start') ?? 0);
      if (url.pathname === '/rest/api/latest/users') starts.push(start);
      const page = (next: number): object => ({ size: 1, limit: 100, start, isLastPage: false, nextPageStart: next, values: [{ id: 1, name: 'someone', active: true }] });
      const body = url.pathname.endsWith('/token') ? { access_token: ACCESS_TOKEN, token_type: 'bearer' }
        : url.pathname === '/plugins/servlet/applinks/whoami' ? 'j.smith@corp'
        : url.pathname === '/rest/api/latest/users' ? page(nextStart(start))
        : { errors: [{ message: 'Not found.' }] };
      res.writeHead(typeof body === 'object' && 'errors' in body ? 404 : 200, { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    servers.push(s);
    expect(expectType((await signIn(dc(s))).outcome, 'error').error).toMatchObject({ message: expect.stringMatching(/no user has the name whoami gave/) as unknown });
    expect(starts).toEqual(read);
  });

  it("does not claim the app's own per-request state when the strategy keeps none (state: false)", async () => {
    const strategy = cloud(await bitbucket({ '/2.0/user': { body: CLOUD_USER } }), { state: false });
    const options = { state: 'return-to-dashboard' };
    await run(strategy, fakeRequest({ code: 'forged', state: options.state }), options); // someone else's callback, first
    expectType(await run(strategy, fakeRequest({ code: 'real', state: options.state }), options), 'success');
    expectType(await run(strategy, fakeRequest({ code: 'again', state: options.state }), options), 'success');
  });
});

describe('answers in many small pieces', () => {
  it('reads a body sent in 1-byte chunks, past the first buffer, into the whole answer', async () => {
    const user = JSON.stringify({ ...CLOUD_USER, display_name: 'A'.repeat(40_000) });
    const token = JSON.stringify({ access_token: ACCESS_TOKEN });
    const chunked = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${[...body].map((c) => `1\r\n${c}\r\n`).join('')}0\r\n\r\n`;
    const server = createServer((socket) => {
      let seen = '';
      socket.on('data', (data: Buffer) => {
        seen += data.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(seen.slice(0, end))?.[1] ?? 0);
        if (seen.length < end + 4 + length) return;
        socket.end(chunked(seen.startsWith('POST') ? token : user));
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const verify = async (_a: string, _r: string, profile: { displayName: string }): Promise<object> => ({ name: profile.displayName });
      const strategy = track(new Strategy({ clientID: 'key', clientSecret: 'secret-0123456789', callbackURL: CALLBACK, skipEmails: true, tokenURL: `${base}/token`, userProfileURL: `${base}/2.0/user` }, verify));
      expect(expectType((await signIn(strategy)).outcome, 'success').user).toEqual({ name: 'A'.repeat(40_000) });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('echoes are not repeated', () => {
  it('redacts a token echoed JSON-escaped with \\/', async () => {
    const echo = (authorization: string): Answer => ({ status: 401, body: `{"type":"error","error":{"message":"bad ${authorization.split('/').join('\\/')}"}}` });
    const { outcome } = await signIn(cloud(await bitbucket({ '/2.0/user': echo })));
    const { error } = expectType(outcome, 'error');
    expect(JSON.stringify([(error as BitbucketError).message, (error as BitbucketError).oauthError])).not.toContain('0123456789\\\\/abcdef');
    expect((error as BitbucketError).message).toContain('[redacted]');
  });

  it.each([
    ['hex entities', (t: string) => t.split('/').join('&#x2F;')],
    ['lower-case hex entities', (t: string) => t.split('/').join('&#x2f;')],
    ['decimal entities', (t: string) => t.split('/').join('&#47;')],
    ['named entities', (t: string) => t.split('/').join('&sol;')],
    ['entities escaped twice', (t: string) => t.split('/').join('&amp;#x2F;')],
    ['every character but letters and digits (ESAPI)', (t: string) => t.split('/').join('&#x2f;').split(' ').join('&#x20;')],
  ])('redacts a token a proxy page echoes HTML-escaped (%s), and what it echoes as sent', async (_label, escape) => {
    const echo = (authorization: string): Answer => ({
      status: 502, headers: { 'Content-Type': 'text/html' },
      body: `<p>Bad gateway &amp; more. ${escape(authorization)} and ${authorization.slice('Bearer '.length)}</p>`,
    });
    const { error } = expectType((await signIn(cloud(await bitbucket({ '/2.0/user': echo })))).outcome, 'error');
    const reported = JSON.stringify([(error as BitbucketError).message, (error as BitbucketError).oauthError]);
    expect(reported).not.toMatch(/0123456789/);
    expect(reported).toContain('[redacted] and [redacted]');
  });

  it("redacts a token Go's html/template escaped (+ as &#43;), leaves the page's own escapes as they are, and no RegExp keeps the token", async () => {
    const token = 'at+0123456789/abcdef=';
    const s = await startServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      res.writeHead(path.endsWith('/access_token') ? 200 : 502, { 'Content-Type': path.endsWith('/access_token') ? 'application/json' : 'text/html' });
      res.end(path.endsWith('/access_token') ? JSON.stringify({ access_token: token }) : `&lt;b&gt; ${token.split('+').join('&#43;')} &lt;/b&gt;`);
    });
    servers.push(s);
    const { error } = expectType((await signIn(cloud(s))).outcome, 'error');
    expect((error as BitbucketError).oauthError).toMatchObject({ data: '&lt;b&gt; [redacted] &lt;/b&gt;' });
    expect(RegExp.input).not.toContain('0123456789');
  });

  // Escapers as they are: ESAPI leaves letters, digits and `,.-_ ` and writes lower-case hex; Go's attribute escaper writes
  // `+ = space` as decimal references; HTML5 names `+` and `=`.
  const esapi = (t: string): string => [...t].map((c) => (/[A-Za-z0-9,.\-_ ]/.test(c) ? c : `&#x${c.codePointAt(0)!.toString(16)};`)).join('');
  const goAttribute = (t: string): string => [...t].map((c) => ({ '+': '&#43;', '=': '&#61;', ' ': '&#32;' })[c] ?? c).join('');
  const named = (t: string): string => [...t].map((c) => ({ '+': '&plus;', '=': '&equals;' })[c] ?? c).join('');
  it.each<[string, string, (t: string) => string]>([
    ['ESAPI, a base64url token with - _ =', 'pzK_RS4kt-pk2MKd0GXMbA0123456789=', esapi],
    ["Go's attribute escaper, a base64 token with / + =", 'aB3/xY9+kLm0pQ7rS2tU0123456789=', goAttribute],
    ['named references for + and =', 'aB3xY9+kLm0pQ7rS2tU0123456789=', named],
  ])('redacts a token an escaper of the proxy page wrote: %s', async (_label, token, escape) => {
    const s = await startServer((req, res) => {
      const tokenPath = new URL(req.url ?? '/', 'http://127.0.0.1').pathname.endsWith('/access_token');
      res.writeHead(tokenPath ? 200 : 502, { 'Content-Type': tokenPath ? 'application/json' : 'text/html' });
      res.end(tokenPath ? JSON.stringify({ access_token: token, token_type: 'bearer' }) : `<p>Bad gateway for ${escape(String(req.headers.authorization))}</p>`);
    });
    servers.push(s);
    const { error } = expectType((await signIn(cloud(s))).outcome, 'error');
    expect(JSON.stringify([(error as BitbucketError).message, (error as BitbucketError).oauthError])).not.toContain('0123456789');
  });

  it('leaves a page that echoes no secret as it came, entities and all', async () => {
    const page = '<p>Bad gateway &amp; &#x2F; &sol; more</p>';
    const s = await bitbucket({ '/2.0/user': { status: 502, headers: { 'Content-Type': 'text/html' }, body: page } });
    const { error } = expectType((await signIn(cloud(s))).outcome, 'error');
    expect((error as BitbucketError).oauthError).toMatchObject({ data: page });
  });

  it('redacts the token from a refusal even where the role Bitbucket sent looks like a word', async () => {
    const token = 'abcdefghijklmnopqrstuvwx';
    const permission = { body: { type: 'workspace_membership', permission: token, user: CLOUD_USER, workspace: { slug: 'acme', uuid: '{w}' } } };
    const s = await startServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      const body = path.endsWith('/access_token') ? { access_token: token } : path === '/2.0/user' ? CLOUD_USER : path.endsWith('/acme/permission') ? permission.body : {};
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    servers.push(s);
    const { challenge } = expectType((await signIn(cloud(s, { workspaces: ['acme'] }))).outcome, 'fail');
    expect(JSON.stringify(challenge)).not.toContain(token);
    expect(challenge).toMatchObject({ message: expect.stringContaining('[redacted]') as unknown, reason: 'workspace' });
    expect(RegExp.input).not.toContain(token); // the role was tested for being a word without a RegExp, which would keep it
  });

  it('does not repeat a workspace role that echoes the token (a proxy), whatever it looks like', async () => {
    const permission = (authorization: string): Answer => ({
      body: { type: 'workspace_membership', permission: authorization.slice('Bearer '.length), user: CLOUD_USER, workspace: { slug: 'acme', uuid: '{w}', name: 'Acme' } },
    });
    const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER }, '/2.0/user/workspaces/acme/permission': permission });
    const { challenge } = expectType((await signIn(cloud(s, { workspaces: ['acme'] }))).outcome, 'fail');
    expect(challenge).toEqual({ message: 'Bitbucket reported a role in workspace acme, which this package does not know.', reason: 'workspace' });
  });

  it('does not quote even the start of a long role that echoes the token', async () => {
    const token = 'KX7Fq2pLm9ZrT4wVbN8cYhJ3sD6gA1eUoQ5iR0tWmZ8xYb2cV4nQ7pL1sK9jH3gF6dA0eR5tU8iO2pW4qE7rT1yU3iO6pA9sD';
    const body = (path: string): unknown =>
      path.endsWith('/access_token') ? { access_token: token } : path === '/2.0/user' ? CLOUD_USER : { permission: token, user: CLOUD_USER, workspace: { slug: 'acme' } };
    const s = await startServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)));
    });
    servers.push(s);
    const { challenge } = expectType((await signIn(cloud(s, { workspaces: ['acme'] }))).outcome, 'fail');
    expect(JSON.stringify(challenge)).not.toContain(token.slice(0, 12));
  });
});
