/**
 * Every JSON body the emulators serve on the endpoints the strategies use is what Atlassian's
 * published OpenAPI specs allow (support/specs/, extracted by scripts/extract-specs.js), except
 * where the spec is silent or wrong: ALLOWANCES in helpers/specs.ts, one line each (the property
 * tests read the specs through the same table). Token endpoint bodies follow
 * RFC 6749 §5.1 and §5.2.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import { startBitbucketDataCenterEmulator, startBitbucketEmulator, type BitbucketDataCenterEmulator, type BitbucketEmulator } from '../lib/testing';
import { ALLOWANCES, cloudSchema, dcSchema, type Node } from './helpers/specs';

/** RFC 6749 §5.1 (success) and §5.2 (error), as JSON Schema. */
const rfc = new Ajv({ strict: true });
const TOKEN = rfc.compile({
  type: 'object',
  required: ['access_token', 'token_type'],
  properties: { access_token: { type: 'string', minLength: 1 }, token_type: { type: 'string' }, expires_in: { type: 'integer', minimum: 1 }, refresh_token: { type: 'string' }, scope: { type: 'string' } },
});
const TOKEN_ERROR = rfc.compile({
  type: 'object',
  required: ['error'],
  properties: {
    error: { enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'] },
    error_description: { type: 'string', pattern: '^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]*$' },
    error_uri: { type: 'string' },
  },
});

async function fetchJson(url: string, token?: unknown, init: RequestInit = {}): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(url, { ...init, headers: { ...(token ? { Authorization: `Bearer ${String(token)}` } : {}), ...(init.headers as Record<string, string>) } });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: response.status, json: await response.json(), headers: response.headers };
}
function expectValid(validate: ValidateFunction, body: unknown, what: string): void {
  const ok = validate(body);
  expect({ what, errors: ok ? null : validate.errors }).toEqual({ what, errors: null });
}
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});

describe('the allowances', () => {
  it('are one line each, with a reason', () => {
    for (const [why] of ALLOWANCES) expect(why).toMatch(/^(Cloud|DC) \S.{10,100}$/);
  });
});

describe('the check itself', () => {
  it('refuses what the specs do not allow: a wrong type, an unknown enum value, a writeOnly property in a response, null where not nullable', () => {
    const user = { type: 'user', uuid: '{u}', display_name: 'A', has_2fa_enabled: null, links: { avatar: { href: 'https://x.test/a' } } };
    expect(cloudSchema('/user', 200)(user)).toBe(true);
    expect(cloudSchema('/user', 200)({ ...user, uuid: 5 })).toBe(false);
    expect(cloudSchema('/user', 200)({ ...user, type: undefined })).toBe(false);
    expect(cloudSchema('/user', 200)({ ...user, display_name: null })).toBe(false);
    expect(cloudSchema('/user', 200)({ ...user, links: { avatar: { href: 'not a uri' } } })).toBe(false);
    expect(cloudSchema('/user/workspaces/{workspace}/permission', 200)({ type: 'workspace_membership', permission: 'admin' })).toBe(false);
    const dcUser = { name: 'j', id: 1, slug: 'j', type: 'NORMAL', avatarUrl: '/a.png', links: {} };
    expect(dcSchema('/api/latest/users/{userSlug}', 200)(dcUser)).toBe(true);
    expect(dcSchema('/api/latest/users/{userSlug}', 200)({ ...dcUser, type: 'ADMIN' })).toBe(false);
    expect(dcSchema('/api/latest/projects/{projectKey}', 200)({ key: 'K', links: {} })).toBe(false);
    expect(dcSchema('/api/latest/users/{userSlug}', 404)({ errors: [{ message: 'm', context: null, exceptionName: null }] })).toBe(true);
    expect(dcSchema('/api/latest/users/{userSlug}', 404)({ message: 'm' })).toBe(false);
    expect(TOKEN_ERROR({ error: 'nope' })).toBe(false);
    expect(TOKEN({ access_token: 'a' })).toBe(false);
  });
});

describe('Bitbucket Cloud emulator against the Cloud spec', () => {
  let bb: BitbucketEmulator;
  let narrow: BitbucketEmulator;
  let token: unknown;
  beforeAll(async () => {
    bb = await startBitbucketEmulator({
      users: [
        { displayName: 'Ada Lovelace', username: 'ada', emails: Array.from({ length: 12 }, (_, i) => ({ email: `a${i}@example.com`, confirmed: i % 3 !== 0 })), workspaces: [{ slug: 'w1', permission: 'owner' }, { slug: 'w2', name: 'Ünïcødé ✓', permission: 'create-project' }] },
        { displayName: 'No Username', username: null },
      ],
    });
    narrow = await startBitbucketEmulator({ scopes: ['email'] });
    token = await tokenFor(bb, 'ada');
  });
  afterAll(async () => {
    await bb.close();
    await narrow.close();
  });
  async function tokenFor(e: BitbucketEmulator, user: string): Promise<unknown> {
    const code = new URL(e.authorize(user)).searchParams.get('code')!;
    const { json } = await fetchJson(e.tokenURL, undefined, form({ grant_type: 'authorization_code', code, client_id: e.clientID, client_secret: e.clientSecret }));
    return (json as Node)['access_token'];
  }

  it('/2.0/user: 200 for users with and without username, 401 without a valid token, 403 without the scope', async () => {
    expectValid(cloudSchema('/user', 200), (await fetchJson(bb.userProfileURL, token)).json, 'user');
    expectValid(cloudSchema('/user', 200), (await fetchJson(bb.userProfileURL, await tokenFor(bb, bb.users[1]!.uuid))).json, 'user without username');
    expectValid(cloudSchema('/user', 401), (await fetchJson(bb.userProfileURL)).json, '401');
    const forbidden = await fetchJson(narrow.userProfileURL, await tokenFor(narrow, 'ada-lovelace'));
    expect(forbidden.status).toBe(403);
    expectValid(cloudSchema('/user', 403), forbidden.json, '403');
  });

  it('/2.0/user/emails: every page, 401 and 403', async () => {
    const first = await fetchJson(`${bb.userEmailsURL}?pagelen=5`, token);
    const last = await fetchJson(String((first.json as Node)['next']), token);
    for (const page of [first, last, await fetchJson(`${bb.userEmailsURL}?page=3&pagelen=5`, token)]) expectValid(cloudSchema('/user/emails', 200), page.json, 'emails page');
    expectValid(cloudSchema('/user/emails', 401), (await fetchJson(bb.userEmailsURL, 'expired-or-unknown')).json, '401');
    const narrowCloud = await startBitbucketEmulator({ scopes: ['account'] });
    try {
      const forbidden = await fetchJson(narrowCloud.userEmailsURL, await tokenFor(narrowCloud, 'ada-lovelace'));
      expect(forbidden.status).toBe(403);
      expectValid(cloudSchema('/user/emails', 403), forbidden.json, '403');
    } finally {
      await narrowCloud.close();
    }
  });

  it('/2.0/user/workspaces and /permission: 200, 401 and 403 for a workspace the user is not in', async () => {
    expectValid(cloudSchema('/user/workspaces', 200), (await fetchJson(`${bb.userWorkspacesURL}?pagelen=1`, token)).json, 'listing');
    expectValid(cloudSchema('/user/workspaces', 401), (await fetchJson(bb.userWorkspacesURL)).json, '401');
    const route = '/user/workspaces/{workspace}/permission';
    for (const slug of ['w1', 'w2', encodeURIComponent(bb.users[0]!.workspaces[0]!.uuid)]) {
      expectValid(cloudSchema(route, 200), (await fetchJson(`${bb.url}/2.0/user/workspaces/${slug}/permission`, token)).json, slug);
    }
    const other = await fetchJson(`${bb.url}/2.0/user/workspaces/elsewhere/permission`, token);
    expect(other.status).toBe(403);
    expectValid(cloudSchema(route, 403), other.json, '403');
    expectValid(cloudSchema(route, 401), (await fetchJson(`${bb.url}/2.0/user/workspaces/w1/permission`)).json, '401');
  });

  it('the endpoints CHANGE-2770 removed: 410; an unknown one: 404; an emulated fault: the error shape', async () => {
    for (const route of ['/user/permissions/workspaces', '/workspaces']) {
      const gone = await fetchJson(`${bb.url}/2.0${route}`, token);
      expect(gone.status).toBe(410);
      expectValid(cloudSchema(route, 410), gone.json, route);
    }
    const missing = await fetchJson(`${bb.url}/2.0/nothing`, token);
    expect(missing.status).toBe(404);
    expectValid(cloudSchema('/user', 404), missing.json, '404');
    bb.setFault('user', { kind: 'status', status: 403, times: 1 });
    expectValid(cloudSchema('/user', 403), (await fetchJson(bb.userProfileURL, token)).json, 'fault');
  });

  it('the token endpoint: RFC 6749 §5.1 on success and refresh, §5.2 on every error, never cached', async () => {
    const code = new URL(bb.authorize('ada')).searchParams.get('code')!;
    const basic = { Authorization: `Basic ${Buffer.from(`${bb.clientID}:${bb.clientSecret}`).toString('base64')}` };
    const granted = await fetchJson(bb.tokenURL, undefined, form({ grant_type: 'authorization_code', code }, basic));
    expect(granted.headers.get('cache-control')).toBe('no-store');
    expectValid(TOKEN, granted.json, 'code exchange');
    expectValid(TOKEN, (await fetchJson(bb.tokenURL, undefined, form({ grant_type: 'refresh_token', refresh_token: String((granted.json as Node)['refresh_token']) }, basic))).json, 'refresh');
    const errors = [
      form({ grant_type: 'authorization_code', code }, basic),
      form({ grant_type: 'authorization_code', code: 'x' }, { Authorization: 'Basic eDp5' }),
      form({ grant_type: 'refresh_token', refresh_token: 'nope' }, basic),
      form({ grant_type: 'password' }, basic),
      { method: 'POST', headers: { 'Content-Type': 'application/json', ...basic }, body: '{}' },
    ];
    for (const init of errors) {
      const answer = await fetchJson(bb.tokenURL, undefined, init);
      expect(answer.status).toBe(400);
      expectValid(TOKEN_ERROR, answer.json, String(init.body));
    }
  });
});

describe('Bitbucket Data Center emulator against the Data Center spec', () => {
  let dcEmulator: BitbucketDataCenterEmulator;
  let token: unknown;
  let publicOnly: unknown;
  const api = (path: string): string => `${dcEmulator.url}/rest/api/latest${path}`;
  beforeAll(async () => {
    dcEmulator = await startBitbucketDataCenterEmulator({
      contextPath: '/bitbucket',
      users: [{ name: 'jdoe', displayName: 'Jane Doe', projects: ['ENG'], repositories: ['OPS/tools'] }, { name: 'nomail@corp', emailAddress: null }, { name: 'jane2', active: false }],
    });
    token = await tokenFor('REPO_READ');
    publicOnly = await tokenFor('PUBLIC_REPOS');
  });
  afterAll(() => dcEmulator.close());
  async function tokenFor(scope: string): Promise<unknown> {
    const redirect = 'http://127.0.0.1:9/cb';
    const code = new URL(dcEmulator.authorize('jdoe', { redirect_uri: redirect, scope })).searchParams.get('code')!;
    const fields = { grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: dcEmulator.clientID, client_secret: dcEmulator.clientSecret };
    return ((await fetchJson(dcEmulator.tokenURL, undefined, form(fields))).json as Node)['access_token'];
  }

  it('users/{userSlug}: 200 with and without avatarSize or an address, 401, 404', async () => {
    const route = '/api/latest/users/{userSlug}';
    for (const path of ['/users/jdoe', '/users/jdoe?avatarSize=64', '/users/nomail_corp?avatarSize=32', '/users/jane2']) {
      expectValid(dcSchema(route, 200), (await fetchJson(api(path), publicOnly)).json, path);
    }
    expectValid(dcSchema(route, 401), (await fetchJson(api('/users/jdoe'))).json, '401');
    const missing = await fetchJson(api('/users/nobody'), token);
    expect(missing.status).toBe(404);
    expectValid(dcSchema(route, 404), missing.json, '404');
  });

  it('users?filter=: every page, and 401', async () => {
    for (const query of ['?filter=j&limit=1', '?filter=j&limit=1&start=1&avatarSize=48', '?filter=nobody', '']) {
      expectValid(dcSchema('/api/latest/users', 200), (await fetchJson(api(`/users${query}`), token)).json, query);
    }
    expectValid(dcSchema('/api/latest/users', 401), (await fetchJson(api('/users?filter=j'))).json, '401');
  });

  it('projects/{key} and projects/{key}/repos/{slug}: 200, 401 (no token or no REPO_READ), 404', async () => {
    const project = '/api/latest/projects/{projectKey}';
    const repo = '/api/latest/projects/{projectKey}/repos/{repositorySlug}';
    expectValid(dcSchema(project, 200), (await fetchJson(api('/projects/ENG'), token)).json, 'project');
    expectValid(dcSchema(repo, 200), (await fetchJson(api('/projects/ENG/repos/portal'), token)).json, 'repository in a project');
    expectValid(dcSchema(repo, 200), (await fetchJson(api('/projects/OPS/repos/tools'), token)).json, 'repository');
    for (const [route, path] of [[project, '/projects/ENG'], [repo, '/projects/ENG/repos/portal']] as const) {
      expectValid(dcSchema(route, 401), (await fetchJson(api(path))).json, `${path} 401`);
      const scoped = await fetchJson(api(path), publicOnly);
      expect(scoped.status).toBe(401);
      expectValid(dcSchema(route, 401), scoped.json, `${path} without REPO_READ`);
      const missing = await fetchJson(api(path.replace('ENG', 'NOPE')), token);
      expect(missing.status).toBe(404);
      expectValid(dcSchema(route, 404), missing.json, `${path} 404`);
    }
    dcEmulator.setFault('project', { kind: 'status', status: 404, times: 1 });
    expectValid(dcSchema(project, 404), (await fetchJson(api('/projects/ENG'), token)).json, 'fault');
  });

  it('the token endpoint: RFC 6749 §5.1 on success and refresh, §5.2 on every error', async () => {
    const redirect = 'http://127.0.0.1:9/cb';
    const credentials = { client_id: dcEmulator.clientID, client_secret: dcEmulator.clientSecret };
    const code = new URL(dcEmulator.authorize('jdoe', { redirect_uri: redirect })).searchParams.get('code')!;
    const granted = await fetchJson(dcEmulator.tokenURL, undefined, form({ ...credentials, grant_type: 'authorization_code', code, redirect_uri: redirect }));
    expectValid(TOKEN, granted.json, 'code exchange');
    expectValid(TOKEN, (await fetchJson(dcEmulator.tokenURL, undefined, form({ ...credentials, grant_type: 'refresh_token', refresh_token: String((granted.json as Node)['refresh_token']) }))).json, 'refresh');
    const errors: Array<[number, RequestInit]> = [
      [400, form({ ...credentials, grant_type: 'authorization_code', code, redirect_uri: redirect })],
      [401, form({ grant_type: 'authorization_code', code: 'x' })],
      [400, form({ ...credentials, grant_type: 'refresh_token', refresh_token: 'nope' })],
      [400, form({ ...credentials, grant_type: 'password' })],
      [400, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }],
    ];
    for (const [status, init] of errors) {
      const answer = await fetchJson(dcEmulator.tokenURL, undefined, init);
      expect(answer.status).toBe(status);
      expectValid(TOKEN_ERROR, answer.json, String(init.body));
    }
  });
});
