import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BitbucketAPIError,
  BitbucketEndpointRemovedError,
  BitbucketResponseError,
  Strategy,
  type Profile,
  type StrategyOptions,
} from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { ACCESS_TOKEN, fixture, fixtureJson, options } from './helpers/bitbucket';
import { expectType, signIn, type Outcome } from './helpers/passport';
import { startServer, type TestServer } from './helpers/server';
import { nock, mockApi, mockToken } from './helpers/nock';
import { WORK } from './readme/blocks';

const API = 'https://api.bitbucket.org';
const SCOPE_403 = { type: 'error', error: { message: 'Your credentials lack one or more required privilege scopes.', detail: { required: ['account'], granted: ['email'] } } };

/** The recorded membership, about the user `/2.0/user` names (the two fixtures were recorded for different accounts). */
function membership(): Record<string, unknown> {
  const body = fixtureJson('workspace-permission.json');
  return { ...body, user: { ...(body['user'] as object), uuid: fixtureJson('user.json')['uuid'] } };
}

/** `GET /2.0/user/workspaces/{slug}/permission` answering with the fixture's shape. */
function permission(slug: string, role: string | undefined, name = slug.toUpperCase()): Record<string, unknown> {
  const body = membership();
  const json: Record<string, unknown> = { ...body, workspace: { ...(body['workspace'] as object), slug, name, uuid: `{${slug}-uuid}` } };
  if (role === undefined) delete json['permission'];
  else json['permission'] = role;
  return json;
}

/** Mocks the permission endpoint of each workspace: a role, or a status with Bitbucket's error. */
function mockPermissions(answers: Record<string, string | number | undefined>): nock.Scope {
  const scope = nock(API);
  for (const [slug, answer] of Object.entries(answers)) {
    const interceptor = scope.get(`/2.0/user/workspaces/${encodeURIComponent(slug)}/permission`).matchHeader('authorization', `Bearer ${ACCESS_TOKEN}`);
    if (typeof answer === 'number') interceptor.reply(answer, { type: 'error', error: { message: 'You do not have access to this workspace.' } });
    else interceptor.reply(200, permission(slug, answer));
  }
  return scope;
}

function make(extra: Partial<StrategyOptions>): { strategy: Strategy; verified: Profile[] } {
  const verified: Profile[] = [];
  const strategy = new Strategy({ ...options, ...extra }, (_a, _r, profile, done) => {
    verified.push(profile);
    done(null, { id: profile.id });
  });
  return { strategy, verified };
}

async function login(extra: Partial<StrategyOptions>): Promise<{ outcome: Outcome; verified: Profile[] }> {
  mockToken();
  mockApi();
  const { strategy, verified } = make(extra);
  return { outcome: (await signIn(strategy)).outcome, verified };
}

describe('workspace options', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['not an array', { workspaces: 'team' }, /options\.workspaces must be a non-empty array of workspace slugs/],
    ['empty', { workspaces: [] }, /options\.workspaces must be a non-empty array/],
    ['a slug that could leave its path segment', { workspaces: ['team/../x'] }, /options\.workspaces/],
    ['more than 20 workspaces', { workspaces: Array.from({ length: 21 }, (_, i) => `w${i}`) }, /at most 20 workspaces/],
    ['a role that does not exist', { workspaces: ['team'], minimumWorkspaceRole: 'admin' }, /options\.minimumWorkspaceRole must be 'member', 'create-project', 'owner'/],
    ['the deprecated collaborator role as a minimum', { workspaces: ['team'], minimumWorkspaceRole: 'collaborator' }, /minimumWorkspaceRole/],
    ['combined with skipUserProfile', { workspaces: ['team'], skipUserProfile: true }, /cannot be combined with skipUserProfile/],
    ['fetchWorkspaces not a boolean', { fetchWorkspaces: 'yes' }, /options\.fetchWorkspaces must be true or false/],
    ['a bad URL', { userWorkspacesURL: 'nope' }, /options\.userWorkspacesURL/],
  ])('rejects %s', (_label, extra, message) => {
    expect(() => new Strategy({ ...options, ...extra } as StrategyOptions, () => undefined)).toThrow(message);
  });
});

describe('restricting sign-in to workspaces (nock)', () => {
  it('lets a member in with one permission request, and fills profile.workspaces', async () => {
    const scope = mockPermissions({ 'analytical-engines': 'member' });
    const { outcome, verified } = await login({ workspaces: ['analytical-engines'] });
    expectType(outcome, 'success');
    scope.done();
    expect(verified[0]?.workspaces).toEqual([
      { slug: 'analytical-engines', uuid: '{analytical-engines-uuid}', name: 'ANALYTICAL-ENGINES', permission: 'member', administrator: false },
    ]);
  });

  it('maps the fixture itself', async () => {
    nock(API).get('/2.0/user/workspaces/bbworkspace1/permission').reply(200, membership());
    const { outcome, verified } = await login({ workspaces: ['bbworkspace1'], minimumWorkspaceRole: 'owner' });
    expectType(outcome, 'success');
    expect(verified[0]?.workspaces).toEqual([
      { slug: 'bbworkspace1', uuid: '{470c176d-3574-44ea-bb41-89e8638bcca4}', name: 'Atlassian Bitbucket', permission: 'owner', administrator: true },
    ]);
  });

  it.each([
    ['about another user (the recorded one: a cache that ignores Authorization would answer so)', () => fixtureJson('workspace-permission.json')],
    ['about no user', () => ({ ...membership(), user: undefined })],
  ])('refuses a membership %s: an error, never a login', async (_label, body) => {
    nock(API).get('/2.0/user/workspaces/bbworkspace1/permission').reply(200, body());
    const { outcome, verified } = await login({ workspaces: ['bbworkspace1'], minimumWorkspaceRole: 'owner' });
    expect(expectType(outcome, 'error').error).toMatchObject({ message: expect.stringMatching(/workspace permission.*it is for another user/) });
    expect(verified).toHaveLength(0);
  });

  // Each role against each minimum: owner > create-project > member ≥ collaborator; a missing
  // or unknown role counts as the lowest.
  const roles: Array<[string | undefined, Record<string, boolean>]> = [
    ['owner', { member: true, 'create-project': true, owner: true }],
    ['create-project', { member: true, 'create-project': true, owner: false }],
    ['member', { member: true, 'create-project': false, owner: false }],
    ['collaborator', { member: true, 'create-project': false, owner: false }],
    [undefined, { member: false, 'create-project': false, owner: false }],
    ['galactic-emperor', { member: false, 'create-project': false, owner: false }],
    ['constructor', { member: false, 'create-project': false, owner: false }],
  ];
  for (const [role, byMinimum] of roles) {
    for (const [minimum, admitted] of Object.entries(byMinimum)) {
      it(`${admitted ? 'admits' : 'refuses'} the role ${String(role)} at minimum ${minimum}`, async () => {
        mockPermissions({ ours: role });
        const { outcome, verified } = await login({ workspaces: ['ours'], minimumWorkspaceRole: minimum as 'member' });
        expect(outcome.type).toBe(admitted ? 'success' : 'fail');
        expect(verified).toHaveLength(admitted ? 1 : 0);
        if (!admitted) expect(outcome).toMatchObject({ status: 403, challenge: { reason: 'workspace' } });
      });
    }
  }

  it('asks about every listed workspace at once and admits a member of only the last', async () => {
    const scope = mockPermissions({ first: 403, second: 404, third: 'member' });
    const { outcome, verified } = await login({ workspaces: ['first', 'second', 'third'] });
    expectType(outcome, 'success');
    scope.done();
    expect(verified[0]?.workspaces?.map((w) => w.slug)).toEqual(['third']);
  });

  it('refuses a member of none cleanly, without reaching verify or naming the workspaces', async () => {
    mockPermissions({ 'secret-team': 403, 'other-team': 404 });
    const { outcome, verified } = await login({ workspaces: ['secret-team', 'other-team'] });
    const failure = expectType(outcome, 'fail');
    expect(failure.status).toBe(403);
    expect(failure.challenge).toEqual({ message: 'Only members of a permitted Bitbucket workspace may sign in.', reason: 'workspace' });
    expect(JSON.stringify(failure.challenge)).not.toContain('secret-team');
    expect(verified).toHaveLength(0);
  });

  it('names the role in the refusal for create-project and owner', async () => {
    mockPermissions({ ours: 'member' });
    const creator = expectType((await login({ workspaces: ['ours'], minimumWorkspaceRole: 'create-project' })).outcome, 'fail');
    expect(creator.challenge).toMatchObject({ message: expect.stringMatching(/create-project role or higher/) as unknown });
    mockPermissions({ ours: 'member' });
    const owner = expectType((await login({ workspaces: ['ours'], minimumWorkspaceRole: 'owner' })).outcome, 'fail');
    expect(owner.challenge).toMatchObject({ message: 'Only owners of a permitted Bitbucket workspace may sign in.' });
  });

  it('refuses an answer about another workspace than the one asked', async () => {
    nock(API).get('/2.0/user/workspaces/ours/permission').reply(200, permission('theirs', 'owner'));
    const { outcome, verified } = await login({ workspaces: ['ours'] });
    expect(expectType(outcome, 'error').error).toBeInstanceOf(BitbucketResponseError);
    expect(verified).toHaveLength(0);
  });

  it('compares slugs case-insensitively', async () => {
    nock(API).get('/2.0/user/workspaces/our-team/permission').reply(200, permission('Our-Team', 'member'));
    expectType((await login({ workspaces: ['our-team'] })).outcome, 'success');
  });

  it('says which permission to tick when the consumer lacks Account: Read (a 403 that is not about membership)', async () => {
    nock(API).get('/2.0/user/workspaces/ours/permission').reply(403, SCOPE_403);
    const { outcome, verified } = await login({ workspaces: ['ours'] });
    const { error } = expectType(outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect((error as Error).message).toMatch(/tick the "Account: Read" permission on the Bitbucket OAuth consumer/);
    expect(verified).toHaveLength(0);
  });

  it('is an error, not a refusal, when Bitbucket fails', async () => {
    mockPermissions({ ours: 500 });
    expect(expectType((await login({ workspaces: ['ours'], retries: 0 })).outcome, 'error').error).toMatchObject({ status: 500 });
  });

  it('lists every workspace across pages with fetchWorkspaces, with the fields the listing has', async () => {
    const page2 = `${API}/2.0/user/workspaces?pagelen=100&page=2`;
    nock(API)
      .get('/2.0/user/workspaces')
      .query({ pagelen: '100' })
      .reply(200, { ...fixtureJson('user-workspaces.json'), next: page2 })
      .get('/2.0/user/workspaces')
      .query({ pagelen: '100', page: '2' })
      .reply(200, { values: [{ type: 'workspace_access', administrator: false, workspace: { type: 'workspace_base', slug: 'named', uuid: '{n}', name: 'Named' } }] });
    const { outcome, verified } = await login({ fetchWorkspaces: true });
    expectType(outcome, 'success');
    expect(verified[0]?.workspaces).toEqual([
      { slug: 'bbworkspace1', uuid: '{470c176d-3574-44ea-bb41-89e8638bcca4}', administrator: true },
      { slug: 'acme-dev', uuid: '{1f0d0f4e-6c2a-4c1e-9d4e-2b7f3c9a8e11}', administrator: false },
      { slug: 'named', uuid: '{n}', name: 'Named', administrator: false },
    ]);
  });

  it('with fetchWorkspaces and workspaces: lists all, adds the role of the checked ones, gates on the check alone', async () => {
    nock(API).get('/2.0/user/workspaces').query({ pagelen: '100' }).twice().reply(200, fixture('user-workspaces.json'));
    mockPermissions({ 'acme-dev': 'create-project' });
    const { outcome, verified } = await login({ fetchWorkspaces: true, workspaces: ['acme-dev'] });
    expectType(outcome, 'success');
    expect(verified[0]?.workspaces).toEqual([
      { slug: 'bbworkspace1', uuid: '{470c176d-3574-44ea-bb41-89e8638bcca4}', administrator: true },
      { slug: 'acme-dev', uuid: '{acme-dev-uuid}', name: 'ACME-DEV', permission: 'create-project', administrator: false },
    ]);
    // Listed, but the permission endpoint says no: the listing never lets anyone in.
    mockPermissions({ 'acme-dev': 403 });
    expectType((await login({ fetchWorkspaces: true, workspaces: ['acme-dev'] })).outcome, 'fail');
  });

  it('leaves profile.workspaces out when not asked for', async () => {
    const { outcome, verified } = await login({});
    expectType(outcome, 'success');
    expect(verified[0]).not.toHaveProperty('workspaces');
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

  it('rejects a permission answer or a listing page without a workspace', async () => {
    nock(API).get('/2.0/user/workspaces/ours/permission').reply(200, { permission: 'owner' });
    expect((expectType((await login({ workspaces: ['ours'] })).outcome, 'error').error as Error).message).toMatch(/workspace permission: the answer has no workspace slug/);
    nock(API).get('/2.0/user/workspaces').query(true).reply(200, { values: [{ administrator: true }] });
    expect((expectType((await login({ fetchWorkspaces: true })).outcome, 'error').error as Error).message).toMatch(/workspaces: an entry has no workspace slug/);
  });
});

describe('removed endpoints (410 with a CHANGE-N notice)', () => {
  const GONE = fixture('error-gone.json');

  it('names the change and its announcement when userWorkspacesURL points at the removed endpoint', async () => {
    nock(API).get('/2.0/user/permissions/workspaces').query(true).reply(410, GONE, { 'Content-Type': 'application/json' });
    const { outcome, verified } = await login({ fetchWorkspaces: true, userWorkspacesURL: `${API}/2.0/user/permissions/workspaces` });
    const { error } = expectType(outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketEndpointRemovedError);
    expect(error).toMatchObject({
      code: 'BITBUCKET_ENDPOINT_REMOVED',
      status: 410,
      change: 'CHANGE-2770',
      announcementURL: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770',
    });
    expect((error as Error).message).toBe(
      'Fetching the workspaces failed: Bitbucket removed the endpoint https://api.bitbucket.org/2.0/user/permissions/workspaces (CHANGE-2770); ' +
        'see https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770',
    );
    expect(verified).toHaveLength(0);
  });

  it.each([
    ['the user', { userProfileURL: `${API}/2.0/gone-user` }, '/2.0/gone-user', /Fetching the user profile failed: Bitbucket removed/],
    ['the emails', { userEmailsURL: `${API}/2.0/gone-emails` }, '/2.0/gone-emails', /Fetching the user emails failed: Bitbucket removed/],
    ['a workspace permission', { workspaces: ['ours'], userWorkspacesURL: `${API}/2.0/gone-ws` }, '/2.0/gone-ws/ours/permission', /Fetching the workspace permission failed: Bitbucket removed/],
  ])('recognises a 410 notice from %s', async (_label, extra, path, message) => {
    mockToken();
    const scope = nock(API).persist();
    scope.get(path).query(true).reply(410, GONE);
    scope.get(/.*/).query(true).reply(200, (uri) => (uri.startsWith('/2.0/user/emails') ? fixture('emails.json') : fixture('user.json')));
    const { strategy } = make(extra);
    const { error } = expectType((await signIn(strategy)).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketEndpointRemovedError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('CHANGE-2770');
  });

  it('recognises one from the token endpoint, and uses the changelog when the notice has no announcement URL', async () => {
    nock('https://bitbucket.org')
      .post('/site/oauth2/access_token')
      .reply(410, { type: 'error', error: { message: 'CHANGE-9999 - Functionality has been removed', data: { announcement_url: 'https://evil.example.com/' } } });
    const { error } = expectType((await signIn(make({}).strategy)).outcome, 'error');
    expect(error).toMatchObject({ change: 'CHANGE-9999', announcementURL: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-9999' });
    expect((error as Error).message).toMatch(/^Exchanging the authorization code failed: Bitbucket removed the endpoint https:\/\/bitbucket\.org\/site\/oauth2\/access_token \(CHANGE-9999\)/);
  });

  it('leaves a 410 without the notice a plain API error', async () => {
    nock(API).get('/2.0/user').reply(410, { type: 'error', error: { message: 'Gone fishing' } });
    const { error } = expectType((await login({ skipEmails: true })).outcome, 'error');
    expect(error).toBeInstanceOf(BitbucketAPIError);
    expect(error).not.toBeInstanceOf(BitbucketEndpointRemovedError);
  });
});

describe('twenty workspaces, one login', () => {
  // Node prints its warnings from the process itself, which a jest test does not see: a child process runs the login.
  it('asks about them all at once without a MaxListenersExceededWarning (22 requests under one deadline)', async () => {
    const script = join(WORK, 'twenty-workspaces.js');
    mkdirSync(WORK, { recursive: true });
    writeFileSync(script, `
      const { Strategy } = require('passport-bitbucket-auth');
      const { startBitbucketEmulator } = require('passport-bitbucket-auth/testing');
      (async () => {
        const bitbucket = await startBitbucketEmulator({ callbackURL: 'http://127.0.0.1/cb' });
        const workspaces = Array.from({ length: 20 }, (_, i) => 'ws-' + i);
        const strategy = new Strategy({ ...bitbucket.strategyOptions, callbackURL: 'http://127.0.0.1/cb', workspaces }, () => undefined);
        const code = new URL(bitbucket.authorize('ada-lovelace')).searchParams.get('code');
        const token = await new Promise((resolve, reject) =>
          strategy._oauth2.getOAuthAccessToken(code, { grant_type: 'authorization_code' }, (e, t) => (e ? reject(e) : resolve(t))));
        const outcome = await new Promise((resolve) => strategy.userProfile(token, (e) => resolve(e ? e.name : 'a profile')));
        console.log('outcome: ' + outcome);
        strategy.close();
        await bitbucket.close();
      })();`);
    const child = spawnSync(process.execPath, ['-r', join(__dirname, 'readme', 'ts-hook.js'), script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.stdout).toContain('outcome: AuthorizationError'); // a member of none of them
    expect(child.stderr).not.toContain('MaxListenersExceededWarning');
  }, 40_000);
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

  it('asks for the user, the emails and every workspace permission at once', async () => {
    const waiting: Array<() => void> = [];
    server = await startServer((req, res) => {
      waiting.push(() => {
        if (req.url === '/2.0/user/workspaces/ours/permission') res.end(JSON.stringify(permission('ours', 'member')));
        else if (req.url === '/2.0/user/workspaces/theirs/permission') res.writeHead(403).end('{}');
        else if (req.url?.startsWith('/2.0/user/emails')) res.end(fixture('emails.json'));
        else res.end(fixture('user.json'));
      });
      // Nothing is answered until all four requests have arrived: one round trip, not four.
      if (waiting.length === 4) waiting.forEach((answer) => answer());
    });
    const { strategy } = make({
      workspaces: ['theirs', 'ours'],
      timeout: 2000,
      userProfileURL: `${server.url}/2.0/user`,
      userEmailsURL: `${server.url}/2.0/user/emails`,
      userWorkspacesURL: `${server.url}/2.0/user/workspaces`,
    });
    const { error, profile } = await new Promise<{ error: unknown; profile: Profile | undefined }>((resolve) =>
      strategy.userProfile(ACCESS_TOKEN, (e, p) => resolve({ error: e, profile: p })),
    );
    expect(error).toBeNull();
    expect(profile?.workspaces?.map((w) => w.slug)).toEqual(['ours']);
    expect(server.requests.map((r) => r.url).sort()).toEqual(
      ['/2.0/user', '/2.0/user/emails?pagelen=100', '/2.0/user/workspaces/ours/permission', '/2.0/user/workspaces/theirs/permission'],
    );
  });

  it('lets workspace members of the emulator in and keeps others out', async () => {
    bitbucket = await startBitbucketEmulator({
      callbackURL: options.callbackURL,
      users: [
        { displayName: 'Owner', username: 'o', workspaces: [{ slug: 'acme', permission: 'owner' }] },
        { displayName: 'Creator', username: 'c', workspaces: [{ slug: 'acme', permission: 'create-project' }] },
        { displayName: 'Member', username: 'm', workspaces: [{ slug: 'other' }, { slug: 'acme' }] },
        { displayName: 'Outsider', username: 'x', workspaces: [{ slug: 'other' }] },
      ],
    });
    const base = { ...bitbucket.strategyOptions, callbackURL: options.callbackURL, workspaces: ['acme'] };
    const signInAs = async (user: string, extra: Partial<StrategyOptions> = {}): Promise<{ type: string; profile: Profile | undefined }> => {
      const verified: Profile[] = [];
      const strategy = new Strategy({ ...base, ...extra }, (_a, _r, profile, done) => {
        verified.push(profile);
        done(null, {});
      });
      const first = await signIn(strategy, new URL(bitbucket!.authorize(user)).searchParams.get('code')!);
      return { type: first.outcome.type, profile: verified[0] };
    };
    const owner = await signInAs('o');
    expect(owner.type).toBe('success');
    expect(owner.profile?.workspaces).toEqual([expect.objectContaining({ slug: 'acme', permission: 'owner', administrator: true })]);
    expect((await signInAs('x')).type).toBe('fail');
    expect((await signInAs('m')).type).toBe('success');
    expect((await signInAs('m', { minimumWorkspaceRole: 'create-project' })).type).toBe('fail');
    expect((await signInAs('c', { minimumWorkspaceRole: 'create-project' })).type).toBe('success');
    expect((await signInAs('c', { minimumWorkspaceRole: 'owner' })).type).toBe('fail');
    const all = await signInAs('m', { fetchWorkspaces: true });
    expect(all.profile?.workspaces?.map((w) => `${w.slug}:${w.permission ?? '-'}`)).toEqual(['other:-', 'acme:member']);
    expect(bitbucket.stats.workspacePermission).toBeGreaterThan(0);
  });

  it('fails cleanly with CHANGE-2770 when pointed at the emulator\'s removed endpoint', async () => {
    bitbucket = await startBitbucketEmulator({ callbackURL: options.callbackURL });
    const strategy = new Strategy(
      { ...bitbucket.strategyOptions, callbackURL: options.callbackURL, fetchWorkspaces: true, userWorkspacesURL: `${bitbucket.url}/2.0/user/permissions/workspaces` },
      (_a, _r, _p, done) => done(null, {}),
    );
    const { outcome } = await signIn(strategy, new URL(bitbucket.authorize('ada-lovelace')).searchParams.get('code')!);
    expect(expectType(outcome, 'error').error).toMatchObject({ code: 'BITBUCKET_ENDPOINT_REMOVED', change: 'CHANGE-2770' });
  });
});
