import { createHash } from 'node:crypto';
import { startBitbucketDataCenterEmulator, type BitbucketDataCenterEmulator, type DataCenterEmulatorOptions } from '../lib/testing';
import { consentForm } from './helpers/demo';
import { ManualClock } from './helpers/wait';

let dc: BitbucketDataCenterEmulator;
afterEach(async () => {
  await dc?.close();
});
const CALLBACK = 'http://127.0.0.1:4000/cb';
const start = async (options: DataCenterEmulatorOptions = {}): Promise<BitbucketDataCenterEmulator> => {
  dc = await startBitbucketDataCenterEmulator({ callbackURL: CALLBACK, ...options });
  return dc;
};

async function token(form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(dc.tokenURL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
const credentials = (): Record<string, string> => ({ client_id: dc.clientID, client_secret: dc.clientSecret });
const codeFor = (user = 'jdoe', params: Record<string, string> = {}): string =>
  new URL(dc.authorize(user, { redirect_uri: CALLBACK, ...params })).searchParams.get('code')!;
async function tokensFor(user = 'jdoe', scope?: string): Promise<Record<string, unknown>> {
  const code = codeFor(user, scope ? { scope } : {});
  return (await token({ ...credentials(), grant_type: 'authorization_code', code, redirect_uri: CALLBACK })).json;
}
async function api(path: string, accessToken?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${dc.baseURL}${path}`, { headers: accessToken ? { Authorization: `Bearer ${String(accessToken)}` } : {} });
  const text = await response.text();
  return { status: response.status, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text }, headers: response.headers };
}

describe('Data Center emulator: authorization', () => {
  it('shows a consent page with the scope, an account each and Deny, and redirects with a code or access_denied', async () => {
    await start({ contextPath: '/bitbucket' });
    expect(dc.baseURL).toMatch(/\/bitbucket$/);
    const query = new URLSearchParams({ client_id: dc.clientID, response_type: 'code', redirect_uri: CALLBACK, state: 's', scope: 'REPO_READ' });
    const page = await (await fetch(`${dc.authorizationURL}?${query}`)).text();
    expect(page).toContain('<b>REPO_READ</b>');
    expect(page).toContain('data-user="jdoe"');
    const grant = await fetch(dc.authorizationURL, { method: 'POST', redirect: 'manual', body: new URLSearchParams(consentForm(page, 'jdoe')) });
    const granted = new URL(grant.headers.get('location')!);
    expect(granted.searchParams.get('state')).toBe('s');
    expect(granted.searchParams.get('code')).toMatch(/\S{20,}/);
    const deny = await fetch(dc.authorizationURL, { method: 'POST', redirect: 'manual', body: new URLSearchParams(consentForm(page, 'deny')) });
    expect(new URL(deny.headers.get('location')!).searchParams.get('error')).toBe('access_denied');
  });

  it.each([
    ['an unknown client_id', { client_id: 'other' }, /Invalid client_id/],
    ['no redirect_uri', { redirect_uri: '' }, /redirect_uri is required/],
    ['a redirect_uri outside the Redirect URL', { redirect_uri: 'http://127.0.0.1:4001/cb' }, /does not match the Redirect URL/],
    ['a scope it does not know', { scope: 'PUBLIC_REPOS WRITE_EVERYTHING' }, /Invalid scope: WRITE_EVERYTHING/],
  ])('shows an error page for %s', async (_label, params, message) => {
    await start();
    const query = new URLSearchParams({ client_id: dc.clientID, response_type: 'code', redirect_uri: CALLBACK, ...params });
    const response = await fetch(`${dc.authorizationURL}?${query}`, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(message);
  });

  it('redirects an unsupported response_type, refuses an unknown account, and accepts loopback without a callbackURL', async () => {
    dc = await startBitbucketDataCenterEmulator({ autoApprove: 'jdoe' });
    const token = await fetch(`${dc.authorizationURL}?client_id=${dc.clientID}&response_type=token&redirect_uri=${encodeURIComponent(CALLBACK)}`, { redirect: 'manual' });
    expect(new URL(token.headers.get('location')!).searchParams.get('error')).toBe('unsupported_response_type');
    const auto = await fetch(`${dc.authorizationURL}?client_id=${dc.clientID}&response_type=code&redirect_uri=${encodeURIComponent('http://localhost:9/x')}`, { redirect: 'manual' });
    expect(auto.headers.get('location')).toMatch(/^http:\/\/localhost:9\/x\?code=/);
    const elsewhere = await fetch(`${dc.authorizationURL}?client_id=${dc.clientID}&response_type=code&redirect_uri=${encodeURIComponent('https://app.example.com/x')}`);
    expect(await elsewhere.text()).toContain('accepts only a loopback redirect_uri');
    const unknown = await fetch(dc.authorizationURL, { method: 'POST', body: new URLSearchParams({ client_id: dc.clientID, redirect_uri: CALLBACK, decision: 'grant', user: 'nobody' }) });
    expect(unknown.status).toBe(400);
    expect(() => dc.authorize('nobody')).toThrow(/No emulator user nobody/);
  });

  it('authorize() checks a client_id or redirect_uri it is given as the authorize page does', async () => {
    dc = await start();
    expect(() => dc.authorize('jdoe', { redirect_uri: 'http://evil.example/steal' })).toThrow(/must start with/);
    expect(() => dc.authorize('jdoe', { client_id: 'other', redirect_uri: CALLBACK })).toThrow(/Invalid client_id/);
    expect(() => dc.authorize('jdoe', { redirect_uri: CALLBACK, scope: 'PUBLIC_REPOS NOPE' })).toThrow(/Invalid scope: NOPE/);
    expect(() => dc.authorize('jdoe', { scope: 'NOPE', state: 's' })).toThrow(/Invalid scope: NOPE/); // the callback: its callbackURL
    expect(new URL(dc.authorize('jdoe', { redirect_uri: CALLBACK, scope: 'PUBLIC_REPOS' })).searchParams.get('code')).toBeTruthy();
  });
});

describe('Data Center emulator: tokens', () => {
  it('takes the client credentials in the form body only, echoes the scope, and checks PKCE', async () => {
    await start();
    const basic = `Basic ${Buffer.from(`${dc.clientID}:${dc.clientSecret}`).toString('base64')}`;
    expect((await token({ grant_type: 'authorization_code', code: codeFor(), redirect_uri: CALLBACK }, { Authorization: basic })).json['error']).toBe('invalid_client');
    const granted = await tokensFor('jdoe', 'REPO_READ');
    expect(granted).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'REPO_READ' });
    const verifier = 'v'.repeat(43);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const pkce = codeFor('jdoe', { code_challenge: challenge, code_challenge_method: 'S256' });
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: pkce, redirect_uri: CALLBACK, code_verifier: 'w'.repeat(43) })).json['error']).toBe('invalid_grant');
    // RFC 7636 §4.3: no code_challenge_method means plain, as on Cloud.
    const unnamed = codeFor('jdoe', { code_challenge: verifier });
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: unnamed, redirect_uri: CALLBACK, code_verifier: verifier })).status).toBe(200);
    const hashed = codeFor('jdoe', { code_challenge: challenge });
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: hashed, redirect_uri: CALLBACK, code_verifier: verifier })).json['error']).toBe('invalid_grant');
    const plain = codeFor('jdoe', { code_challenge: verifier, code_challenge_method: 'plain' });
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: plain, redirect_uri: CALLBACK, code_verifier: verifier })).status).toBe(200);
  });

  it('makes codes single use, bound to their redirect_uri and expiring after 10 s', async () => {
    const clock = new ManualClock();
    await start({ now: clock.now });
    const code = codeFor();
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code, redirect_uri: `${CALLBACK}/other` })).json['error_description']).toMatch(/redirect_uri/);
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code, redirect_uri: CALLBACK })).json['error']).toBe('invalid_grant');
    const late = codeFor();
    clock.advance(10_001);
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: late, redirect_uri: CALLBACK })).json['error']).toBe('invalid_grant');
  });

  it('rotates refresh tokens: the used one dies at once unless refreshGraceMs, and a scope narrows the grant', async () => {
    const clock = new ManualClock();
    await start({ now: clock.now, refreshGraceMs: 0 });
    const first = await tokensFor('jdoe', 'REPO_READ');
    const refresh = (refreshToken: unknown, scope?: string): Promise<{ status: number; json: Record<string, unknown> }> =>
      token({ ...credentials(), grant_type: 'refresh_token', refresh_token: String(refreshToken), ...(scope ? { scope } : {}) });
    const second = await refresh(first['refresh_token'], 'PUBLIC_REPOS');
    expect(second.json).toMatchObject({ scope: '', token_type: 'bearer' });
    expect(second.json['refresh_token']).not.toBe(first['refresh_token']);
    expect((await refresh(first['refresh_token'])).json).toEqual({ error: 'invalid_grant', error_description: 'Invalid refresh_token' });
    expect((await refresh(second.json['refresh_token'])).status).toBe(200);
  });

  it('refuses what is not a form POST, unknown grants and dead refresh tokens', async () => {
    await start();
    const json = await fetch(dc.tokenURL, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(((await json.json()) as Record<string, unknown>)['error']).toBe('invalid_request');
    expect((await token({ ...credentials(), grant_type: 'password' })).json['error']).toBe('unsupported_grant_type');
    expect((await token({ ...credentials(), grant_type: 'refresh_token', refresh_token: 'nope' })).json['error']).toBe('invalid_grant');
  });
});

describe('Data Center emulator: REST', () => {
  it('answers whoami in the body and X-AUSERNAME, and nothing without a valid token', async () => {
    await start();
    const { access_token: accessToken } = await tokensFor('j.smith@corp');
    const who = await api('/plugins/servlet/applinks/whoami', accessToken);
    expect(who.json['text']).toBe('j.smith@corp');
    expect(who.headers.get('x-ausername')).toBe(encodeURIComponent('j.smith@corp'));
    const nobody = await api('/plugins/servlet/applinks/whoami');
    expect(nobody).toMatchObject({ status: 200, json: { text: '' } });
  });

  it('answers users by slug and by filter, in Data Center\'s page shape, and 401 and 404 in its error shape', async () => {
    await start({ users: [{ name: 'a1', id: 1 }, { name: 'a2', id: 2 }, { name: 'a3', id: 3 }] });
    const { access_token: accessToken } = await tokensFor('a1');
    expect((await api('/rest/api/latest/users/a2', accessToken)).json).toMatchObject({ id: 2, name: 'a2', slug: 'a2', emailAddress: 'a2@example.com' });
    expect((await api('/rest/api/latest/users/a2?avatarSize=32', accessToken)).json['avatarUrl']).toBe('/users/a2/avatar.png?s=32&v=1531929290000');
    const missing = await api('/rest/api/latest/users/zz', accessToken);
    expect(missing.status).toBe(404);
    expect((missing.json['errors'] as Array<Record<string, unknown>>)[0]?.['exceptionName']).toMatch(/NoSuchUserException/);
    const page = await api('/rest/api/latest/users?filter=a&limit=2', accessToken);
    expect(page.json).toMatchObject({ size: 2, limit: 2, isLastPage: false, start: 0, nextPageStart: 2 });
    expect((await api('/rest/api/latest/users?filter=a&limit=2&start=2', accessToken)).json).toMatchObject({ size: 1, isLastPage: true });
    expect((await api('/rest/api/latest/users/a2')).status).toBe(401);
    expect((await api('/rest/api/latest/nothing', accessToken)).status).toBe(404);
  });

  it('answers projects and repositories a user can reach, with REPO_READ only', async () => {
    await start();
    const readOnly = (await tokensFor('jdoe', 'REPO_READ'))['access_token'];
    expect((await api('/rest/api/latest/projects/ENG', readOnly)).status).toBe(200);
    expect((await api('/rest/api/latest/projects/eng/repos/portal', readOnly)).status).toBe(200);
    expect((await api('/rest/api/latest/projects/OPS', readOnly)).status).toBe(404);
    const publicOnly = (await tokensFor('jdoe'))['access_token'];
    expect((await api('/rest/api/latest/projects/ENG', publicOnly)).status).toBe(401);
  });

  it('answers 404 outside its context path, and shows PUBLIC_REPOS when no scope is asked', async () => {
    await start({ contextPath: '/bitbucket/' });
    const outside = await fetch(`${new URL(dc.baseURL).origin}/rest/api/latest/users`);
    expect(outside.status).toBe(404);
    const query = new URLSearchParams({ client_id: dc.clientID, response_type: 'code', redirect_uri: CALLBACK });
    expect(await (await fetch(`${dc.authorizationURL}?${query}`)).text()).toContain('<b>PUBLIC_REPOS</b>');
  });

  it('adds latency, injects faults from its seed and counts requests', async () => {
    await start({ latency: 30, seed: 3 });
    expect(dc.seed).toBe(3);
    const t = Date.now();
    await api('/plugins/servlet/applinks/whoami');
    expect(Date.now() - t).toBeGreaterThanOrEqual(25);
    dc.setFault('whoami', { kind: 'status', status: 503 });
    const failed = await api('/plugins/servlet/applinks/whoami');
    expect(failed.status).toBe(503);
    expect((failed.json['errors'] as Array<Record<string, unknown>>)[0]?.['message']).toBe('Emulated error 503');
    dc.setFault('whoami', undefined);
    expect((await api('/plugins/servlet/applinks/whoami')).status).toBe(200);
    expect(dc.stats.whoami).toBe(3);
  });
});

describe('Data Center emulator: odd requests', () => {
  it('answers each with Data Center\'s error or an empty default, never a crash', async () => {
    dc = await startBitbucketDataCenterEmulator({ users: [{ name: 'x' }] });
    expect(dc.users[0]?.id).toBe(1000);
    expect(new URL(dc.authorize('x')).origin).toBe(new URL(dc.baseURL).origin);
    expect((await fetch(`${dc.baseURL}/plugins/servlet/applinks/whoami`, { method: 'POST' })).status).toBe(404);
    const noType = await fetch(dc.tokenURL, { method: 'POST', body: 'x' });
    expect(((await noType.json()) as Record<string, unknown>)['error']).toBe('invalid_request');
    expect((await token({ ...credentials(), grant_type: 'authorization_code' })).json['error']).toBe('invalid_grant');
    expect((await token({ ...credentials(), grant_type: 'refresh_token' })).json['error']).toBe('invalid_grant');
    const challenged = new URL(dc.authorize('x', { redirect_uri: CALLBACK, code_challenge: 'c' })).searchParams.get('code')!;
    expect((await token({ ...credentials(), grant_type: 'authorization_code', code: challenged, redirect_uri: CALLBACK })).json['error']).toBe('invalid_grant');
    const { access_token: accessToken } = (await token({ ...credentials(), grant_type: 'authorization_code', code: codeFor('x'), redirect_uri: CALLBACK })).json;
    expect((await api('/rest/api/latest/users', accessToken)).json).toMatchObject({ size: 1, isLastPage: true });
    expect((await api('/rest/api/latest/users/x', 'Bearer')).status).toBe(401);
    const noResponseType = await fetch(`${dc.authorizationURL}?client_id=${dc.clientID}&redirect_uri=${encodeURIComponent(CALLBACK)}`, { redirect: 'manual' });
    expect(new URL(noResponseType.headers.get('location')!).searchParams.get('error')).toBe('unsupported_response_type');
  });
});

