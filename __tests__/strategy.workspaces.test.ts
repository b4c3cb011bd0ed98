import { BitbucketAPIError, Strategy, type Profile, type StrategyOptions } from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { ACCESS_TOKEN, fixture, options } from './helpers/bitbucket';
import { expectType, signIn } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';
import { nock, mockApi, mockToken } from './helpers/nock';

const membership = (slug: string, permission = 'member'): Record<string, unknown> => ({
  type: 'workspace_membership',
  permission,
  user: { type: 'user', uuid: '{u}' },
  workspace: { type: 'workspace', uuid: `{${slug}-uuid}`, slug, name: slug.toUpperCase() },
});

function mockMemberships(values: unknown[], query: Record<string, string> | true = true): nock.Scope {
  return nock('https://api.bitbucket.org')
    .get('/2.0/user/permissions/workspaces')
    .query(query)
    .matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`)
    .reply(200, { pagelen: 100, page: 1, size: values.length, values });
}

function make(extra: Partial<StrategyOptions>): { strategy: Strategy; verified: Profile[] } {
  const verified: Profile[] = [];
  const strategy = new Strategy({ ...options, ...extra }, (_a, _r, profile, done) => {
    verified.push(profile);
    done(null, { id: profile.id });
  });
  return { strategy, verified };
}

describe('workspace options', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['not an array', { workspaces: 'team' }, /options\.workspaces must be a non-empty array of workspace slugs/],
    ['empty', { workspaces: [] }, /options\.workspaces must be a non-empty array/],
    ['a slug that could break the query', { workspaces: ['team" OR permission="member'] }, /options\.workspaces/],
    ['a role that does not exist', { workspaces: ['team'], minimumWorkspaceRole: 'admin' }, /options\.minimumWorkspaceRole must be 'member' or 'owner'/],
    ['combined with skipUserProfile', { workspaces: ['team'], skipUserProfile: true }, /cannot be combined with skipUserProfile/],
    ['fetchWorkspaces not a boolean', { fetchWorkspaces: 'yes' }, /options\.fetchWorkspaces must be true or false/],
    ['a bad URL', { userWorkspacesURL: 'nope' }, /options\.userWorkspacesURL/],
  ])('rejects %s', (_label, extra, message) => {
    expect(() => new Strategy({ ...options, ...extra } as StrategyOptions, () => undefined)).toThrow(message);
  });
});

describe('restricting sign-in to workspaces (nock)', () => {
  it('lets a member in, filtering server-side, and fills profile.workspaces', async () => {
    mockToken();
    mockApi();
    const scope = mockMemberships([membership('analytical-engines')], { pagelen: '100', q: 'workspace.slug="analytical-engines" OR workspace.slug="other"' });
    const { strategy, verified } = make({ workspaces: ['analytical-engines', 'other'] });
    expectType((await signIn(strategy)).outcome, 'success');
    scope.done();
    expect(verified[0]?.workspaces).toEqual([{ slug: 'analytical-engines', name: 'ANALYTICAL-ENGINES', uuid: '{analytical-engines-uuid}', permission: 'member' }]);
  });

  it('refuses a non-member cleanly, without reaching verify or naming the workspaces', async () => {
    mockToken();
    mockApi();
    mockMemberships([]);
    const { strategy, verified } = make({ workspaces: ['secret-team'] });
    const outcome = expectType((await signIn(strategy)).outcome, 'fail');
    expect(outcome.status).toBe(403);
    expect(outcome.challenge).toEqual({ message: 'Only members of a permitted Bitbucket workspace may sign in.', reason: 'workspace' });
    expect(JSON.stringify(outcome.challenge)).not.toContain('secret-team');
    expect(verified).toHaveLength(0);
  });

  it('checks the slugs itself even when the server ignores the filter', async () => {
    mockToken();
    mockApi();
    mockMemberships([membership('someone-elses')]);
    const { strategy, verified } = make({ workspaces: ['ours'] });
    expectType((await signIn(strategy)).outcome, 'fail');
    expect(verified).toHaveLength(0);
  });

  it('compares slugs case-insensitively', async () => {
    mockToken();
    mockApi();
    mockMemberships([membership('Our-Team')]);
    expectType((await signIn(make({ workspaces: ['our-team'] }).strategy)).outcome, 'success');
  });

  it('requires ownership with minimumWorkspaceRole owner', async () => {
    mockToken();
    mockApi();
    mockMemberships([membership('ours', 'member'), membership('ours2', 'collaborator')]);
    const member = expectType((await signIn(make({ workspaces: ['ours', 'ours2'], minimumWorkspaceRole: 'owner' }).strategy)).outcome, 'fail');
    expect(member.challenge).toMatchObject({ message: 'Only owners of a permitted Bitbucket workspace may sign in.' });
    mockToken();
    mockApi();
    mockMemberships([membership('ours', 'owner')]);
    expectType((await signIn(make({ workspaces: ['ours'], minimumWorkspaceRole: 'owner' }).strategy)).outcome, 'success');
  });

  it('fetches every membership, unfiltered, with fetchWorkspaces', async () => {
    mockToken();
    mockApi();
    nock('https://api.bitbucket.org')
      .get('/2.0/user/permissions/workspaces')
      .query({ pagelen: '100' })
      .reply(200, { values: [membership('a')], next: 'https://api.bitbucket.org/2.0/user/permissions/workspaces?pagelen=100&page=2' })
      .get('/2.0/user/permissions/workspaces')
      .query({ pagelen: '100', page: '2' })
      .reply(200, { values: [membership('b', 'owner')] });
    const { strategy, verified } = make({ fetchWorkspaces: true });
    expectType((await signIn(strategy)).outcome, 'success');
    expect(verified[0]?.workspaces?.map((w) => `${w.slug}:${w.permission}`)).toEqual(['a:member', 'b:owner']);
  });

  it('leaves profile.workspaces out when not asked for', async () => {
    mockToken();
    mockApi();
    const { strategy, verified } = make({});
    expectType((await signIn(strategy)).outcome, 'success');
    expect(verified[0]).not.toHaveProperty('workspaces');
  });

  it('says which permission to tick when the consumer lacks it', async () => {
    mockToken();
    mockApi();
    nock('https://api.bitbucket.org')
      .get('/2.0/user/permissions/workspaces')
      .query(true)
      .reply(403, { type: 'error', error: { message: 'Your credentials lack one or more required privilege scopes.', detail: { required: ['account'], granted: ['email'] } } });
    const outcome = expectType((await signIn(make({ workspaces: ['ours'] }).strategy)).outcome, 'error');
    expect(outcome.error).toBeInstanceOf(BitbucketAPIError);
    expect((outcome.error as Error).message).toMatch(/tick the "Account: Read" permission on the Bitbucket OAuth consumer/);
  });

  it('names Account: Email for a user endpoint that needs the email scope, and Account: Read by default', async () => {
    mockApi({ status: 403, body: fixture('error-scope.json') }, null);
    const strategy = make({ skipEmails: true }).strategy;
    const first = await new Promise<unknown>((resolve) => strategy.userProfile(ACCESS_TOKEN, resolve));
    expect((first as Error).message).toMatch(/"Account: Email" permission/);
    mockApi({ status: 403, body: '<html>Forbidden</html>' }, null);
    const second = await new Promise<unknown>((resolve) => strategy.userProfile(ACCESS_TOKEN, resolve));
    expect((second as Error).message).toMatch(/"Account: Read" permission/);
  });

  it('rejects a memberships page whose entries have no workspace', async () => {
    mockToken();
    mockApi();
    nock('https://api.bitbucket.org').get('/2.0/user/permissions/workspaces').query(true).reply(200, { values: [{ permission: 'owner' }] });
    const outcome = expectType((await signIn(make({ workspaces: ['ours'] }).strategy)).outcome, 'error');
    expect((outcome.error as Error).message).toMatch(/workspace memberships: an entry has no workspace slug/);
  });
});

describe('restricting sign-in to workspaces (real servers)', () => {
  let server: TestServer | undefined;
  let bitbucket: BitbucketEmulator | undefined;
  afterEach(async () => {
    await server?.close();
    await bitbucket?.close();
    server = undefined;
    bitbucket = undefined;
  });

  it('asks for the user, the emails and the memberships at once', async () => {
    const waiting: Array<() => void> = [];
    server = await startServer((req, res) => {
      waiting.push(() => {
        if (req.url?.startsWith('/2.0/user/permissions')) res.end(JSON.stringify({ values: [membership('ours')] }));
        else if (req.url?.startsWith('/2.0/user/emails')) res.end(fixture('emails.json'));
        else res.end(fixture('user.json'));
      });
      if (waiting.length === 3) waiting.forEach((answer) => answer());
    });
    const { strategy } = make({
      workspaces: ['ours'],
      timeout: 2000,
      userProfileURL: `${server.url}/2.0/user`,
      userEmailsURL: `${server.url}/2.0/user/emails`,
      userWorkspacesURL: `${server.url}/2.0/user/permissions/workspaces`,
    });
    const { error, profile } = await new Promise<{ error: unknown; profile: Profile | undefined }>((resolve) =>
      strategy.userProfile(ACCESS_TOKEN, (e, p) => resolve({ error: e, profile: p })),
    );
    expect(error).toBeNull();
    expect(profile?.workspaces?.[0]?.slug).toBe('ours');
  });

  it('lets workspace members of the emulator in and keeps others out', async () => {
    bitbucket = await startBitbucketEmulator({ callbackURL: options.callbackURL });
    const base = { ...bitbucket.strategyOptions, callbackURL: options.callbackURL, userWorkspacesURL: bitbucket.userWorkspacesURL, workspaces: ['analytical-engines'] };
    const login = async (user: string, extra: Partial<StrategyOptions> = {}): Promise<{ type: string; profile: Profile | undefined }> => {
      const verified: Profile[] = [];
      const strategy = new Strategy({ ...base, ...extra }, (_a, _r, profile, done) => {
        verified.push(profile);
        done(null, {});
      });
      const first = await signIn(strategy, new URL(bitbucket!.authorize(user)).searchParams.get('code')!);
      return { type: first.outcome.type, profile: verified[0] };
    };
    const ada = await login('ada-lovelace');
    expect(ada.type).toBe('success');
    expect(ada.profile?.workspaces).toEqual([expect.objectContaining({ slug: 'analytical-engines', permission: 'owner' })]);
    expect((await login('ewd')).type).toBe('fail');
    expect((await login('{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}', { minimumWorkspaceRole: 'owner' })).type).toBe('fail');
    expect((await login('{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}')).type).toBe('success');
  });
});
