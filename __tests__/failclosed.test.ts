import {
  BitbucketDataCenterStrategy,
  BitbucketResponseError,
  Strategy,
  type DataCenterProfile,
  type DataCenterStrategyOptions,
  type Profile,
  type StrategyOptions,
} from '../lib';
import { expectType, signIn, type Outcome } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';

// Every gate, identity check and profile field fails closed: an answer the package does not
// understand never signs anyone in. Each test drives a whole login against a server on
// 127.0.0.1 that answers what a hostile or misconfigured Bitbucket (or a proxy before it) would.

const CALLBACK = 'http://127.0.0.1:3000/auth/callback';
const TOKEN = { access_token: 'at-0123456789abcdef', token_type: 'bearer', expires_in: 3600, refresh_token: 'rt-0123456789abcdef', scope: 'REPO_READ' };

interface Answer {
  status?: number;
  /** A string goes as text/plain, anything else as JSON. */
  body: unknown;
  headers?: Record<string, string>;
}
/** Answers by path; the token endpoints always answer tokens, any other path 404. */
type Routes = Record<string, Answer | undefined>;

const servers: TestServer[] = [];
const strategies: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const strategy of strategies.splice(0)) strategy.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function bitbucket(routes: Routes): Promise<TestServer> {
  const server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const token = path.endsWith('/token') || path.endsWith('/access_token');
    const answer = token ? { body: TOKEN } : (routes[path] ?? { status: 404, body: { errors: [{ message: 'Not found.' }] } });
    const text = typeof answer.body === 'string';
    res.writeHead(answer.status ?? 200, { 'Content-Type': text ? 'text/plain' : 'application/json', ...answer.headers });
    res.end(text ? answer.body : JSON.stringify(answer.body));
  });
  servers.push(server);
  return server;
}

/** The paths the strategy asked for after the token exchange. */
const asked = (s: TestServer): string[] =>
  s.requests.map((r) => new URL(r.url, 'http://x').pathname).filter((p) => !p.endsWith('/token') && !p.endsWith('/access_token'));

// Data Center

const WHOAMI = '/plugins/servlet/applinks/whoami';
const USERS = '/rest/api/latest/users';
const JDOE = { id: 101, name: 'jdoe', slug: 'jdoe', displayName: 'Jane Doe', active: true };

async function dcLogin(routes: Routes, extra: Partial<DataCenterStrategyOptions> = {}): Promise<{ outcome: Outcome; verified: DataCenterProfile[]; server: TestServer }> {
  const s = await bitbucket({ [WHOAMI]: { body: 'jdoe' }, [`${USERS}/jdoe`]: { body: JDOE }, ...routes });
  const verified: DataCenterProfile[] = [];
  const strategy = new BitbucketDataCenterStrategy(
    { baseURL: s.url, allowInsecureHTTP: true, clientID: 'dc-id', clientSecret: 'dc-secret-0123456789', callbackURL: CALLBACK, retries: 0, ...extra },
    async (_at, _rt, profile) => {
      verified.push(profile);
      return { id: profile.id };
    },
  );
  strategies.push(strategy);
  return { outcome: (await signIn(strategy)).outcome, verified, server: s };
}

function expectResponseError(result: { outcome: Outcome; verified: unknown[] }, message: RegExp): void {
  const { error } = expectType(result.outcome, 'error');
  expect(error).toBeInstanceOf(BitbucketResponseError);
  expect((error as Error).message).toMatch(message);
  expect(result.verified).toHaveLength(0);
}

// Cloud

const CLOUD_USER = { uuid: '{u-1}', account_id: 'a-1', display_name: 'Ada', type: 'user' };
/** The least options each strategy takes, for the construction checks. */
const CLOUD = { clientID: 'key', clientSecret: 'secret' };
const DC = { ...CLOUD, baseURL: 'https://bitbucket.example.com' };

async function cloudLogin(routes: Routes, extra: Partial<StrategyOptions> = {}): Promise<{ outcome: Outcome; verified: Profile[] }> {
  const s = await bitbucket({ '/2.0/user': { body: CLOUD_USER }, '/2.0/user/emails': { body: { values: [] } }, ...routes });
  const verified: Profile[] = [];
  const strategy = new Strategy(
    {
      clientID: 'key',
      clientSecret: 'secret-0123456789',
      callbackURL: CALLBACK,
      authorizationURL: `${s.url}/site/oauth2/authorize`,
      tokenURL: `${s.url}/site/oauth2/access_token`,
      userProfileURL: `${s.url}/2.0/user`,
      userEmailsURL: `${s.url}/2.0/user/emails`,
      userWorkspacesURL: `${s.url}/2.0/user/workspaces`,
      retries: 0,
      ...extra,
    },
    async (_at, _rt, profile) => {
      verified.push(profile);
      return { id: profile.id };
    },
  );
  strategies.push(strategy);
  return { outcome: (await signIn(strategy)).outcome, verified };
}

describe('1. the Data Center gate permits only on the project or repository asked for', () => {
  const PROJECT = '/rest/api/latest/projects/ENG';
  const REPOSITORY = '/rest/api/latest/projects/ENG/repos/portal';
  const NOT_ASKED = /not with the project or repository asked for/;

  it('a project gate answered 200 with anything but that project is an error, not a login', async () => {
    for (const body of [
      '<html><body><form action="/login">Sign in</form></body></html>', // a single sign-on page
      '',
      {},
      { errors: [{ context: null, message: 'Project ENG does not exist.', exceptionName: 'x' }] },
      { key: 'OPS', id: 2 }, // another project
      { slug: 'portal', project: { key: 'ENG' } }, // a repository of it
      { key: ['ENG'] },
    ]) {
      expectResponseError(await dcLogin({ [PROJECT]: { body } }, { projects: ['ENG'] }), NOT_ASKED);
    }
    expectType((await dcLogin({ [PROJECT]: { body: { key: 'ENG', id: 1 } } }, { projects: ['ENG'] })).outcome, 'success');
    // Asked as written, answered with Bitbucket's upper-case key: the same project.
    expectType((await dcLogin({ '/rest/api/latest/projects/eng': { body: { key: 'ENG', id: 1 } } }, { projects: ['eng'] })).outcome, 'success');
  });

  it('a repository gate answered 200 with anything but that repository is an error, not a login', async () => {
    for (const body of [
      { key: 'ENG', id: 1 }, // the project itself
      { slug: 'portal', project: { key: 'OPS' } },
      { slug: 'tools', project: { key: 'ENG' } },
      { slug: 'portal' },
      'OK',
    ]) {
      expectResponseError(await dcLogin({ [REPOSITORY]: { body } }, { repositories: ['ENG/portal'] }), NOT_ASKED);
    }
    expectType((await dcLogin({ [REPOSITORY]: { body: { slug: 'portal', project: { key: 'ENG' } } } }, { repositories: ['ENG/portal'] })).outcome, 'success');
    const mixed = { '/rest/api/latest/projects/eng/repos/Portal': { body: { slug: 'portal', project: { key: 'ENG' } } } };
    expectType((await dcLogin(mixed, { repositories: ['eng/Portal'] })).outcome, 'success');
  });
});

describe('2. a Cloud workspace role this package does not know never satisfies a gate', () => {
  const permission = (role: unknown): Answer => ({
    body: { type: 'workspace_membership', ...(role === undefined ? {} : { permission: role }), user: CLOUD_USER, workspace: { type: 'workspace', slug: 'acme', name: 'Acme', uuid: '{w}' } },
  });
  const PATH = '/2.0/user/workspaces/acme/permission';

  it('refuses guest, none, an empty or a missing role with a reason that names it, and admits a member', async () => {
    for (const [role, message] of [
      ['guest', 'Bitbucket reported the role "guest" in workspace acme, which this package does not know.'],
      ['none', 'Bitbucket reported the role "none" in workspace acme, which this package does not know.'],
      ['', 'Bitbucket reported no role in workspace acme.'],
      [undefined, 'Bitbucket reported no role in workspace acme.'],
      [3, 'Bitbucket reported no role in workspace acme.'],
    ] as const) {
      const { outcome, verified } = await cloudLogin({ [PATH]: permission(role) }, { workspaces: ['acme'] });
      expect(expectType(outcome, 'fail')).toMatchObject({ status: 403, challenge: { reason: 'workspace', message } });
      expect(verified).toHaveLength(0);
    }
    expectType((await cloudLogin({ [PATH]: permission('member') }, { workspaces: ['acme'] })).outcome, 'success');
  });
});

describe("3. each strategy refuses the other product's options", () => {
  const cloudOnly: Record<string, unknown> = {
    // Data Center's endpoints come from baseURL: these would be replaced without a word.
    authorizationURL: 'https://sso.example.com/authorize',
    tokenURL: 'https://sso.example.com/token',
    userProfileURL: 'https://api.bitbucket.org/2.0/user',
    userEmailsURL: 'https://api.bitbucket.org/2.0/user/emails',
    userWorkspacesURL: 'https://api.bitbucket.org/2.0/user/workspaces',
    workspaces: ['acme'],
    minimumWorkspaceRole: 'owner',
    fetchWorkspaces: true,
    skipEmails: true,
    includeUnverifiedEmails: false,
  };
  const dcOnly: Record<string, unknown> = {
    baseURL: 'https://bitbucket.example.com',
    allowInsecureHTTP: false,
    avatarSize: 64,
    trustEmail: true,
    projects: ['ENG'],
    repositories: ['ENG/portal'],
  };

  it.each(Object.entries(cloudOnly))('Data Center refuses options.%s, naming BitbucketStrategy', (name, value) => {
    expect(() => new BitbucketDataCenterStrategy({ ...DC, [name]: value } as unknown as DataCenterStrategyOptions, () => undefined)).toThrow(
      new TypeError(`passport-bitbucket-auth: options.${name} is an option of BitbucketStrategy (Bitbucket Cloud), not of BitbucketDataCenterStrategy`),
    );
  });

  it.each(Object.entries(dcOnly))('Cloud refuses options.%s, naming BitbucketDataCenterStrategy', (name, value) => {
    expect(() => new Strategy({ ...CLOUD, [name]: value } as unknown as StrategyOptions, () => undefined)).toThrow(
      new TypeError(`passport-bitbucket-auth: options.${name} is an option of BitbucketDataCenterStrategy (Bitbucket Data Center), not of BitbucketStrategy`),
    );
  });

  it("keeps passport-oauth2's own options, and knows callbackURLs", () => {
    const passThrough = { customHeaders: { 'X-Trace': '1' }, scopeSeparator: ',', skipUserProfile: false, proxy: true, sessionKey: 'k', state: true };
    const callbackURLs = ['https://app.example.com/auth/callback'];
    expect(() => new Strategy({ ...CLOUD, ...passThrough, callbackURLs } as unknown as StrategyOptions, () => undefined).close()).not.toThrow();
    expect(() => new BitbucketDataCenterStrategy({ ...DC, ...passThrough, callbackURLs } as unknown as DataCenterStrategyOptions, () => undefined).close()).not.toThrow();
  });
});

describe('3b. an option the strategy does not take is an error, not a restriction that restricts nothing', () => {

  it.each([
    ['Cloud', 'allowedWorkspaces', 'BitbucketStrategy'],
    ['Cloud', 'requiredWorkspaces', 'BitbucketStrategy'],
    ['Cloud', 'someFutureOption', 'BitbucketStrategy'],
    ['Data Center', 'repos', 'BitbucketDataCenterStrategy'],
    ['Data Center', 'allowedProjects', 'BitbucketDataCenterStrategy'],
  ])('%s refuses options.%s, naming the strategy', (product, name, strategy) => {
    const make = (): unknown =>
      product === 'Cloud'
        ? new Strategy({ ...CLOUD, [name]: ['acme'] } as unknown as StrategyOptions, () => undefined)
        : new BitbucketDataCenterStrategy({ ...DC, [name]: ['ENG/portal'] } as unknown as DataCenterStrategyOptions, () => undefined);
    expect(make).toThrow(new TypeError(`passport-bitbucket-auth: options.${name} is not an option of ${strategy}`));
  });

  it('takes an unknown name whose value is undefined, as it takes undefined for every option', () => {
    expect(() => new Strategy({ ...CLOUD, someFutureOption: undefined } as unknown as StrategyOptions, () => undefined).close()).not.toThrow();
  });

  it('refuses minimumWorkspaceRole without workspaces, which would check no role', () => {
    expect(() => new Strategy({ ...CLOUD, minimumWorkspaceRole: 'owner', fetchWorkspaces: true }, () => undefined)).toThrow(
      /options\.minimumWorkspaceRole needs options\.workspaces/,
    );
  });
});

describe('4. names that a URL would read as a path are refused at construction', () => {

  it('Cloud refuses workspace slugs that are path steps, and keeps other periods', () => {
    for (const slug of ['.', '..', '%2e%2e', '.%2E', 'a/b/c', 'ACME/..', 'a%2Fb']) {
      expect(() => new Strategy({ ...CLOUD, workspaces: [slug] }, () => undefined)).toThrow(/options\.workspaces must be a non-empty array of workspace slugs/);
    }
    expect(() => new Strategy({ ...CLOUD, workspaces: ['a.b', '...x'] }, () => undefined).close()).not.toThrow();
  });

  it('Data Center refuses project keys and repositories that are path steps, and keeps other periods', () => {
    for (const key of ['.', '..', '%2e%2e', 'a/b/c', 'ACME/..']) {
      expect(() => new BitbucketDataCenterStrategy({ ...DC, projects: [key] }, () => undefined)).toThrow(/options\.projects must be a non-empty array of project keys/);
    }
    for (const name of ['ACME/..', 'ACME/.', 'ACME/%2e%2e', 'ACME/%2E.', 'a/b/c', '..', '../x', 'ACME/a%2Fb']) {
      expect(() => new BitbucketDataCenterStrategy({ ...DC, repositories: [name] }, () => undefined)).toThrow(/options\.repositories must be a non-empty array/);
    }
    expect(() => new BitbucketDataCenterStrategy({ ...DC, repositories: ['ACME/my.repo', 'ACME/...'] }, () => undefined).close()).not.toThrow();
  });
});

describe('5. the Data Center profile is of the user whoami named', () => {
  const MALLORY = { id: 666, name: 'mallory', slug: 'jdoe', displayName: 'Mallory', active: true };
  const page = (...values: unknown[]): Answer => ({ body: { size: values.length, isLastPage: true, start: 0, limit: 100, values } });

  it('is an error when users/{slug} and the filter answer with another user', async () => {
    expectResponseError(await dcLogin({ [`${USERS}/jdoe`]: { body: MALLORY }, [USERS]: page(MALLORY) }), /no user has the name whoami gave/);
  });

  it('finds the user by name when the slug is another user\'s, and takes a name that differs only in case as the same', async () => {
    const { outcome, verified } = await dcLogin({ [`${USERS}/jdoe`]: { body: MALLORY }, [USERS]: page(MALLORY, { ...JDOE, slug: 'jdoe_1' }) });
    expectType(outcome, 'success');
    expect(verified.map((p) => p.id)).toEqual(['101']);
    const cased = await dcLogin({ [`${USERS}/jdoe`]: { body: { ...JDOE, name: 'JDoe' } } });
    expect(cased.verified.map((p) => p.username)).toEqual(['JDoe']);
  });
});

describe('6. whoami: body and X-AUSERNAME must agree', () => {
  it('is an error when they name different users (or the header does not decode), and signs in when they agree', async () => {
    for (const header of ['mallory', '%E0%A4%A']) {
      const result = await dcLogin({ [WHOAMI]: { body: 'jdoe', headers: { 'X-AUSERNAME': header } } });
      expectResponseError(result, /body and its X-AUSERNAME header name different users/);
      expect(asked(result.server)).toEqual([WHOAMI]);
    }
    expectResponseError(await dcLogin({ [WHOAMI]: { body: '', headers: { 'X-AUSERNAME': '%E0%A4%A' } } }), /it named no user/);
    // The header compared after decoding.
    const name = 'j.smith@corp';
    const { outcome } = await dcLogin({
      [WHOAMI]: { body: name, headers: { 'X-AUSERNAME': encodeURIComponent(name) } },
      [USERS]: { body: { size: 1, isLastPage: true, start: 0, limit: 100, values: [{ ...JDOE, id: 102, name, slug: 'j.smith_corp' }] } },
    });
    expectType(outcome, 'success');
  });
});

describe('7. whoami names that a URL would read as a path are refused before any request', () => {
  it('refuses ., .., their percent-encodings and names with / or \\, and keeps other percent signs', async () => {
    const answers: Answer[] = [
      // The last one is '.' encoded seven times over: past five rounds of decoding, refused.
      ...['.', '..', '%2e%2e', '%2E.', '%252e%252e', 'a/b', 'a\\b', '..%2Fadmin', '%2525252525252e'].map((body) => ({ body })),
      { body: '', headers: { 'X-AUSERNAME': '%2e%2e' } },
      { body: '', headers: { 'X-AUSERNAME': 'a%2Fb' } },
    ];
    for (const whoami of answers) {
      const result = await dcLogin({ [WHOAMI]: whoami });
      expectResponseError(result, /named a user that reads as a path/);
      expect(asked(result.server)).toEqual([WHOAMI]);
    }
    const user = { ...JDOE, name: '50%off', slug: '50_off' };
    const { outcome } = await dcLogin({ [WHOAMI]: { body: '50%off' }, [USERS]: { body: { size: 1, isLastPage: true, start: 0, limit: 100, values: [user] } } });
    expectType(outcome, 'success');
  });
});

describe('8. profile URLs are absolute http(s) URLs or absent', () => {
  const hostile = ['javascript:alert(document.cookie)', 'data:text/html,<script>alert(1)</script>', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'vbscript:x', 'file:///etc/passwd', 'http://[', 'foo://['];

  it('Cloud drops any other scheme from photos and profileUrl, and keeps http(s)', async () => {
    for (const href of hostile) {
      const { outcome, verified } = await cloudLogin({ '/2.0/user': { body: { ...CLOUD_USER, links: { avatar: { href }, html: { href } } } } });
      expectType(outcome, 'success');
      expect(verified[0]?.photos).toEqual([]);
      expect(verified[0]?.profileUrl).toBeUndefined();
    }
    const links = { avatar: { href: 'https://avatars.example.com/a.png' }, html: { href: 'https://bitbucket.org/ada' } };
    const { verified } = await cloudLogin({ '/2.0/user': { body: { ...CLOUD_USER, links } } });
    expect(verified[0]).toMatchObject({ photos: [{ value: 'https://avatars.example.com/a.png' }], profileUrl: 'https://bitbucket.org/ada' });
  });

  it('Data Center drops any other scheme from photos and profileUrl, and keeps http(s) and relative avatars', async () => {
    for (const href of hostile) {
      const { outcome, verified } = await dcLogin({ [`${USERS}/jdoe`]: { body: { ...JDOE, avatarUrl: href, links: { self: [{ href }] } } } });
      expectType(outcome, 'success');
      expect(verified[0]?.photos).toEqual([]);
      expect(verified[0]?.profileUrl).toBeUndefined();
    }
    const dc = await dcLogin({ [`${USERS}/jdoe`]: { body: { ...JDOE, avatarUrl: '/users/jdoe/avatar.png', links: { self: [{ href: 'http://bb.example.com/users/jdoe' }] } } } });
    expect(dc.verified[0]).toMatchObject({ photos: [{ value: `${dc.server.url}/users/jdoe/avatar.png` }], profileUrl: 'http://bb.example.com/users/jdoe' });
  });
});
