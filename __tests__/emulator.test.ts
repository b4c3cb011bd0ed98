import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startBitbucketEmulator, type BitbucketEmulator, type EmulatorOptions } from '../lib/testing';
import { fixtureJson } from './helpers/bitbucket';
import { Browser, consentForm } from './helpers/demo';
import { freePort } from './helpers/server';
import { ManualClock } from './helpers/wait';

let bb: BitbucketEmulator;
afterEach(async () => {
  await bb?.close();
});

const CALLBACK = 'http://127.0.0.1:1/cb';
const start = async (options: EmulatorOptions = {}): Promise<BitbucketEmulator> => {
  bb = await startBitbucketEmulator({ callbackURL: CALLBACK, ...options });
  return bb;
};
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function tokenRequest(form: Record<string, string>, headers: Record<string, string> = { Authorization: basic('emulator-key', 'emulator-secret') }): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(bb.tokenURL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function codeFor(user = 'ada-lovelace', params: Record<string, string> = {}): Promise<string> {
  return new URL(bb.authorize(user, params)).searchParams.get('code')!;
}

async function tokensFor(user = 'ada-lovelace'): Promise<Record<string, unknown>> {
  const { json } = await tokenRequest({ grant_type: 'authorization_code', code: await codeFor(user) });
  return json;
}

async function api(path: string, token: unknown, init: RequestInit = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${bb.url}${path}`, { ...init, headers: { Authorization: `Bearer ${String(token)}` } });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: response.headers };
}

describe('emulator: authorize', () => {
  it('shows a consent page listing the accounts, escaping what it echoes', async () => {
    await start();
    const url = `${bb.authorizationURL}?client_id=emulator-key&response_type=code&state=%22%3E%3Cscript%3E`;
    const response = await fetch(url);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('Grant access as Ada Lovelace');
    expect(html).toContain('data-deny');
    expect(html).not.toContain('"><script>');
    expect(html).toContain('read your email addresses');
  });

  it.each([
    ['an unknown client_id', { client_id: 'other', response_type: 'code' }, /Invalid client_id/],
    ['a redirect_uri outside the Callback URL', { client_id: 'emulator-key', response_type: 'code', redirect_uri: 'http://127.0.0.2/cb' }, /does not match/],
  ])('shows an error page, not a redirect, for %s', async (_label, params, message) => {
    await start();
    const response = await fetch(`${bb.authorizationURL}?${new URLSearchParams(params)}`, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toMatch(message);
  });

  it('says on its error page what it compared: the registered Callback URL and the redirect_uri received, escaped', async () => {
    await start();
    const received = 'http://127.0.0.2/cb?x="><b>';
    const response = await fetch(`${bb.authorizationURL}?${new URLSearchParams({ client_id: 'emulator-key', response_type: 'code', redirect_uri: received })}`);
    const html = await response.text();
    expect(html).toContain(`it must start with &#34;${CALLBACK}&#34;; received &#34;http://127.0.0.2/cb?x=&#34;&#62;&#60;b&#62;&#34;`);
    expect(html).not.toContain('"><b>');
    const wrongClient = await (await fetch(`${bb.authorizationURL}?client_id=%3Ci%3E&response_type=code`)).text();
    expect(wrongClient).toContain('Received &#34;&#60;i&#62;&#34;; this emulator&#39;s is &#34;emulator-key&#34;');
  });

  it('without a callbackURL, accepts any loopback redirect_uri and says why it refuses others', async () => {
    bb = await startBitbucketEmulator({ autoApprove: 'ada-lovelace' });
    const noUri = await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=code`);
    expect(await noUri.text()).toContain('No callback uri defined for the OAuth client.');
    for (const target of ['http://127.0.0.1:4000/cb', 'http://localhost:3000/auth/bitbucket/callback', 'http://[::1]:8080/x']) {
      const response = await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=code&redirect_uri=${encodeURIComponent(target)}`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toMatch(new RegExp(`^${target.replace(/[[\]]/g, '\\$&')}\\?code=`));
    }
    const elsewhere = await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=code&redirect_uri=${encodeURIComponent('https://app.example.com/cb')}`, { redirect: 'manual' });
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain('This emulator has no callbackURL, so it accepts only a loopback redirect_uri');
  });

  it('accepts a redirect_uri that starts with the Callback URL, and redirects errors there', async () => {
    await start();
    const response = await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=token&redirect_uri=${encodeURIComponent(`${CALLBACK}/deeper`)}&state=s`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${CALLBACK}/deeper?error=unsupported_response_type&state=s`);
  });

  it('redirects with a code on Grant and with access_denied on Deny', async () => {
    await start();
    const post = (form: Record<string, string>): Promise<Response> =>
      fetch(bb.authorizationURL, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
    const granted = await post({ client_id: 'emulator-key', user: 'ada-lovelace', decision: 'grant', state: 'st' });
    const location = new URL(granted.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
    expect(location.searchParams.get('code')).toMatch(/^[\w-]{20,}$/);
    expect(location.searchParams.get('state')).toBe('st');
    const denied = await post({ client_id: 'emulator-key', decision: 'deny' });
    expect(new URL(denied.headers.get('location')!).searchParams.get('error')).toBe('access_denied');
    const unknown = await post({ client_id: 'emulator-key', decision: 'grant', user: 'nobody' });
    expect(unknown.status).toBe(400);
    const forged = await post({ client_id: 'evil', decision: 'grant', user: 'ada-lovelace' });
    expect(forged.status).toBe(400);
  });

  it("answers a scope name Bitbucket does not know with invalid_scope at the callback (Atlassian's names pass)", async () => {
    await start({ autoApprove: 'ada-lovelace' });
    const authorize = async (scope: string): Promise<URLSearchParams> => {
      const query = new URLSearchParams({ client_id: 'emulator-key', response_type: 'code', redirect_uri: CALLBACK, state: 's', scope });
      return new URL((await fetch(`${bb.authorizationURL}?${query}`, { redirect: 'manual' })).headers.get('location')!).searchParams;
    };
    expect(Object.fromEntries(await authorize('account,email'))).toEqual({ error: 'invalid_scope', state: 's' });
    expect((await authorize('account email pullrequest:write')).get('code')).toMatch(/^[\w-]{20,}$/);
    expect(Object.fromEntries(new URL(bb.authorize('ada-lovelace', { scope: 'account,email', state: 's' })).searchParams)).toEqual({ error: 'invalid_scope', state: 's' });
  });

  it('authorize() checks a client_id or redirect_uri it is given as the consent page does', async () => {
    await start();
    expect(() => bb.authorize('ada-lovelace', { client_id: 'emulator-key', redirect_uri: 'http://evil.example/steal' })).toThrow(/must start with "http:\/\/127\.0\.0\.1:1\/cb"/);
    expect(() => bb.authorize('ada-lovelace', { client_id: 'not-the-key', redirect_uri: CALLBACK })).toThrow(/Invalid client_id/);
    expect(() => bb.authorize('ada-lovelace', { redirect_uri: 'http://evil.example/steal' })).toThrow(/must start with/);
    expect(new URL(bb.authorize('ada-lovelace', { redirect_uri: `${CALLBACK}/deeper` })).pathname).toBe('/cb/deeper');
  });

  it('answers a request line no URL can be made of with 400, and goes on serving', async () => {
    await start();
    const raw = (line: string): Promise<string> => new Promise((resolve) => {
      const socket = connect(Number(new URL(bb.url).port), '127.0.0.1', () => socket.end(`${line}\r\nHost: x\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => (text += String(d))).on('close', () => resolve(text.split('\r\n')[0]!));
    });
    const thrown: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException').on('uncaughtException', (error) => thrown.push(error));
    try {
      expect(await raw('GET http://a:99999/ HTTP/1.1')).toBe('HTTP/1.1 400 Bad Request');
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const listener of listeners) process.on('uncaughtException', listener);
    }
    expect(thrown).toEqual([]);
    expect((await fetch(`${bb.url}/2.0/user`)).status).toBe(401);
  });

  it('signs a user in without the page with autoApprove', async () => {
    await start({ autoApprove: 'ewd' });
    const response = await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=code`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(/\?code=/);
    expect(() => bb.authorize('nobody')).toThrow(/No emulator user/);
  });
});

describe('emulator: token endpoint', () => {
  it('answers a code exchange in Bitbucket\'s shape, with scope (2026) or scopes (before)', async () => {
    await start();
    const tokens = await tokensFor();
    expect(Object.keys(tokens).sort()).toEqual(Object.keys({ ...fixtureJson('token.json'), scope: '', scopes: undefined }).filter((k) => k !== 'scopes').sort());
    expect(tokens).toMatchObject({ scope: 'account email', expires_in: 7200, token_type: 'bearer', state: 'authorization_code' });
    await bb.close();
    await start({ tokenFormat: 'scopes', scopes: ['account'], accessTokenLifetimeSec: 60 });
    expect(await tokensFor()).toMatchObject({ scopes: 'account', expires_in: 60 });
  });

  it('accepts client credentials in the body, and refuses wrong ones in Bitbucket\'s words', async () => {
    await start();
    const ok = await tokenRequest({ grant_type: 'authorization_code', code: await codeFor(), client_id: 'emulator-key', client_secret: 'emulator-secret' }, {});
    expect(ok.status).toBe(200);
    const wrong = await tokenRequest({ grant_type: 'authorization_code', code: await codeFor() }, { Authorization: basic('emulator-key', 'nope') });
    expect(wrong).toEqual({ status: 400, json: fixtureJson('error-token.json') });
    const garbled = await tokenRequest({ grant_type: 'authorization_code', code: await codeFor() }, { Authorization: 'Basic bm9jb2xvbg==' });
    expect(garbled.json['error']).toBe('unauthorized_client');
    const badEscape = await tokenRequest({ grant_type: 'authorization_code', code: await codeFor() }, { Authorization: `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}` });
    expect(badEscape.json['error']).toBe('unauthorized_client');
  });

  it('refuses a JSON body as Bitbucket does', async () => {
    await start();
    const response = await fetch(bb.tokenURL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basic('emulator-key', 'emulator-secret') },
      body: JSON.stringify({ grant_type: 'authorization_code', code: 'x' }),
    });
    expect(await response.json()).toEqual({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type: None' });
  });

  it('makes codes single use, expiring, and bound to their redirect_uri and PKCE challenge', async () => {
    const clock = new ManualClock();
    await start({ codeLifetimeMs: 40, now: clock.now });
    const code = await codeFor();
    expect((await tokenRequest({ grant_type: 'authorization_code', code })).status).toBe(200);
    expect((await tokenRequest({ grant_type: 'authorization_code', code })).json['error']).toBe('invalid_grant');
    const old = await codeFor();
    clock.advance(41);
    expect((await tokenRequest({ grant_type: 'authorization_code', code: old })).json['error']).toBe('invalid_grant');
    const bound = await codeFor('ada-lovelace', { redirect_uri: `${CALLBACK}/x` });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: bound, redirect_uri: CALLBACK })).json['error_description']).toMatch(/redirect_uri/);
    const verifier = 'v'.repeat(43);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const pkce = await codeFor('ada-lovelace', { code_challenge: challenge, code_challenge_method: 'S256' });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: pkce, code_verifier: 'w'.repeat(43) })).json['error_description']).toMatch(/code_verifier/);
    const plain = await codeFor('ada-lovelace', { code_challenge: verifier, code_challenge_method: 'plain' });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: plain, code_verifier: verifier })).status).toBe(200);
    // RFC 7636 §4.3: no code_challenge_method means plain.
    const unnamed = await codeFor('ada-lovelace', { code_challenge: verifier });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: unnamed, code_verifier: verifier })).status).toBe(200);
    const missing = await codeFor('ada-lovelace', { code_challenge: challenge, code_challenge_method: 'S256' });
    expect((await tokenRequest({ grant_type: 'authorization_code', code: missing })).status).toBe(400);
  });

  it('rotates refresh tokens, keeps a used one alive for the grace period, and narrows on a scope', async () => {
    const clock = new ManualClock();
    await start({ refreshGraceMs: 50, now: clock.now });
    const first = await tokensFor();
    const second = await tokenRequest({ grant_type: 'refresh_token', refresh_token: String(first['refresh_token']) });
    expect(second.json['refresh_token']).not.toBe(first['refresh_token']);
    expect(second.json['state']).toBe('refresh_token');
    const inGrace = await tokenRequest({ grant_type: 'refresh_token', refresh_token: String(first['refresh_token']), scope: 'account' });
    expect(inGrace.json['scope']).toBe('account');
    clock.advance(50);
    const dead = await tokenRequest({ grant_type: 'refresh_token', refresh_token: String(first['refresh_token']) });
    expect(dead).toEqual({ status: 400, json: { error: 'invalid_grant', error_description: 'Invalid refresh_token' } });
    const narrowed = await api('/2.0/user/emails', inGrace.json['access_token']);
    expect(narrowed.status).toBe(403);
  });

  it('refuses unknown grant types', async () => {
    await start();
    expect((await tokenRequest({ grant_type: 'password' })).json).toEqual({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type: password' });
    expect((await tokenRequest({})).json['error_description']).toBe('Unsupported grant type: None');
  });
});

describe('emulator: REST API', () => {
  it('answers /2.0/user in the fixture\'s shape, with the token only in the header', async () => {
    await start();
    const { access_token: token } = await tokensFor();
    const user = await api('/2.0/user', token);
    expect(Object.keys(user.json).sort()).toEqual(Object.keys(fixtureJson('user.json')).sort());
    expect(user.json['uuid']).toBe('{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}');
    const byQuery = await fetch(`${bb.userProfileURL}?access_token=${String(token)}`);
    expect(byQuery.status).toBe(401);
    expect(byQuery.headers.get('www-authenticate')).toBe('Basic realm="Bitbucket.org HTTP"');
    const grace = await api('/2.0/user', (await tokensFor('{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}'))['access_token']);
    expect(grace.json).not.toHaveProperty('username');
  });

  it('expires access tokens', async () => {
    const clock = new ManualClock();
    await start({ accessTokenLifetimeSec: 60, now: clock.now });
    const { access_token: token } = await tokensFor();
    expect((await api('/2.0/user', token)).status).toBe(200);
    clock.advance(60_001);
    expect((await api('/2.0/user', token)).json).toEqual({ type: 'error', error: { message: 'Access token expired.' } });
  });

  it('answers a missing scope with Bitbucket\'s 403', async () => {
    await start({ scopes: ['account'] });
    const { access_token: token } = await tokensFor();
    const emails = await api('/2.0/user/emails', token);
    expect(emails).toMatchObject({ status: 403, json: fixtureJson('error-scope.json') });
  });

  it('paginates the emails with pagelen, page and next', async () => {
    await start({
      users: [{ displayName: 'Many Mails', emails: Array.from({ length: 25 }, (_, i) => ({ email: `m${i}@example.com`, confirmed: i % 2 === 0 })) }],
    });
    const { access_token: token } = await tokensFor('many-mails');
    const first = await api('/2.0/user/emails', token);
    expect(first.json).toMatchObject({ pagelen: 10, page: 1, size: 25 });
    expect((first.json['values'] as unknown[]).length).toBe(10);
    expect(first.json['values']).toContainEqual(expect.objectContaining({ email: 'm0@example.com', is_primary: true, is_confirmed: true, type: 'email' }));
    const last = await api('/2.0/user/emails?pagelen=10&page=3', token);
    expect((last.json['values'] as unknown[]).length).toBe(5);
    expect(last.json).not.toHaveProperty('next');
    const next = new URL(String(first.json['next']));
    expect(next.searchParams.get('page')).toBe('2');
    const big = await api('/2.0/user/emails?pagelen=500', token);
    expect(big.json['pagelen']).toBe(100);
    expect((await api('/2.0/user/emails?pagelen=abc', token)).json['pagelen']).toBe(10);
  });

  it('lists workspaces as Bitbucket does since CHANGE-3022, paginated, without a name or role', async () => {
    await start();
    const { access_token: token } = await tokensFor();
    const all = await api('/2.0/user/workspaces', token);
    const shape = fixtureJson('user-workspaces.json');
    const entry = (all.json['values'] as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(entry).sort()).toEqual(Object.keys((shape['values'] as Array<Record<string, unknown>>)[0]!).sort());
    expect(entry).toMatchObject({ type: 'workspace_access', administrator: true, workspace: { type: 'workspace_base', slug: 'analytical-engines' } });
    expect((all.json['values'] as Array<Record<string, unknown>>)[1]).toMatchObject({ administrator: false, workspace: { slug: 'difference-engines' } });
    const first = await api('/2.0/user/workspaces?pagelen=1', token);
    expect(first.json).toMatchObject({ pagelen: 1, size: 2, page: 1 });
    expect(new URL(String(first.json['next'])).searchParams.get('page')).toBe('2');
  });

  it('answers the role in one workspace, by slug or uuid, and 403 for one the user is not in', async () => {
    await start({ users: [{ displayName: 'C', username: 'c', workspaces: [{ slug: 'acme', name: 'Acme', permission: 'create-project' }] }] });
    const { access_token: token } = await tokensFor('c');
    const bySlug = await api('/2.0/user/workspaces/acme/permission', token);
    expect(Object.keys(bySlug.json).sort()).toEqual(Object.keys(fixtureJson('workspace-permission.json')).sort());
    expect(bySlug.json).toMatchObject({ type: 'workspace_membership', permission: 'create-project', workspace: { slug: 'acme', name: 'Acme' } });
    const uuid = bb.users[0]!.workspaces[0]!.uuid;
    expect((await api(`/2.0/user/workspaces/${encodeURIComponent(uuid)}/permission`, token)).json['permission']).toBe('create-project');
    expect((await api('/2.0/user/workspaces/elsewhere/permission', token)).status).toBe(403);
    expect(bb.stats.workspacePermission).toBe(3);
  });

  it('answers the endpoints CHANGE-2770 removed with 410 and the notice', async () => {
    await start();
    const { access_token: token } = await tokensFor();
    for (const path of ['/2.0/user/permissions/workspaces', '/2.0/workspaces', '/2.0/repositories', '/2.0/user/permissions/repositories']) {
      expect(await api(path, token)).toMatchObject({ status: 410, json: fixtureJson('error-gone.json') });
    }
  });

  it('serves an avatar image and 404s elsewhere', async () => {
    await start();
    const { access_token: token } = await tokensFor();
    const href = (((await api('/2.0/user', token)).json['links'] as Record<string, { href: string }>)['avatar'])!.href;
    const avatar = await fetch(href);
    expect(avatar.headers.get('content-type')).toBe('image/svg+xml');
    expect(await avatar.text()).toMatch(/^<svg /);
    expect((await fetch(`${bb.url}/2.0/snippets`)).status).toBe(404);
    const profile = await fetch(`${bb.url}/${encodeURIComponent(bb.users[0]!.uuid)}/`);
    expect(await profile.text()).toContain('<h1>Ada Lovelace</h1>');
    expect((await fetch(bb.userProfileURL, { method: 'POST' })).status).toBe(404);
  });

  it('gives users defaults: a slug username, a primary address, member workspaces', async () => {
    await start({ users: [{ displayName: '!!!', workspaces: [{ slug: 'w' }] }] });
    expect(bb.users[0]).toMatchObject({ username: 'user-0', nickname: '!!!', emails: [{ email: 'user-0@example.com', primary: true, confirmed: true }], workspaces: [{ slug: 'w', name: 'w', permission: 'member' }] });
    expect(bb.users[0]!.uuid).toMatch(/^\{[0-9a-f-]{36}\}$/);
  });
});

describe('emulator: faults and latency', () => {
  const raw = (url: string): Promise<{ status: number; body: string; error?: unknown }> =>
    fetch(url, { signal: AbortSignal.timeout(500) })
      .then(async (r) => ({ status: r.status, body: await r.text() }))
      .catch((error: unknown) => ({ status: 0, body: '', error }));

  it('answers an error status, a number of times', async () => {
    await start({ faults: { user: { kind: 'status', status: 429, body: 'Rate limit for this resource has been exceeded', contentType: 'text/plain', times: 1 } } });
    expect(await raw(bb.userProfileURL)).toEqual({ status: 429, body: 'Rate limit for this resource has been exceeded' });
    expect((await raw(bb.userProfileURL)).status).toBe(401);
    bb.setFault('user', { kind: 'status', status: 500 });
    expect(await raw(bb.userProfileURL)).toEqual({ status: 500, body: '{"type":"error","error":{"message":"Emulated error 500"}}' });
    bb.setFault('user', undefined);
    expect((await raw(bb.userProfileURL)).status).toBe(401);
    bb.setFault('user', { kind: 'status', status: 500, probability: 0 });
    expect((await raw(bb.userProfileURL)).status).toBe(401);
  });

  it('draws random faults from its seed: the same seed, the same faults', async () => {
    const draws = async (seed?: number): Promise<{ seed: number; statuses: number[] }> => {
      await start({
        faults: { user: [{ kind: 'status', status: 500, probability: 0.5 }, { kind: 'status', status: 503, probability: 0.5 }] },
        ...(seed === undefined ? {} : { seed }),
      });
      const statuses: number[] = [];
      for (let i = 0; i < 24; i += 1) statuses.push((await raw(bb.userProfileURL)).status);
      const result = { seed: bb.seed, statuses };
      await bb.close();
      return result;
    };
    const first = await draws(7);
    expect(first.seed).toBe(7);
    expect(new Set(first.statuses)).toEqual(new Set([401, 500, 503]));
    expect((await draws(7)).statuses).toEqual(first.statuses);
    expect((await draws(8)).statuses).not.toEqual(first.statuses);
    const unseeded = await draws();
    expect((await draws(unseeded.seed)).statuses).toEqual(unseeded.statuses);
  });

  it.each([
    ['stall', { kind: 'stall' as const }, (r: { status: number; error?: unknown }) => expect(r.error).toBeDefined()],
    ['reset', { kind: 'reset' as const }, (r: { status: number; error?: unknown }) => expect(r.error).toBeDefined()],
    ['truncate', { kind: 'truncate' as const }, (r: { body: string }) => expect(() => JSON.parse(r.body) as unknown).toThrow()],
    ['drip', { kind: 'drip' as const, intervalMs: 10 }, (r: { status: number; error?: unknown }) => expect(r.error).toBeDefined()],
    ['oversize', { kind: 'oversize' as const, bytes: 3000 }, (r: { body: string }) => expect(r.body.length).toBe(3000)],
  ])('emulates a %s', async (_label, fault, check) => {
    await start({ faults: { emails: fault } });
    check(await raw(bb.userEmailsURL));
  });

  it('adds latency, per endpoint or everywhere, and counts requests', async () => {
    await start({ latency: { user: 60 } });
    let t = Date.now();
    await raw(bb.userProfileURL);
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
    bb.setLatency(0);
    t = Date.now();
    await raw(bb.userProfileURL);
    expect(Date.now() - t).toBeLessThan(55);
    bb.setLatency(30, 'emails');
    await bb.close();
    await start({ latency: 40 });
    t = Date.now();
    await raw(bb.userEmailsURL);
    expect(Date.now() - t).toBeGreaterThanOrEqual(35);
    expect(bb.stats).toEqual({ authorize: 0, token: 0, user: 0, emails: 1, workspaces: 0, workspacePermission: 0 });
  });

  it('refuses to start on a port in use', async () => {
    await start();
    const port = Number(new URL(bb.url).port);
    await expect(startBitbucketEmulator({ port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('refuses an oversized form and survives it', async () => {
    await start();
    const body = 'x'.repeat(70 * 1024);
    const result = await fetch(bb.tokenURL, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body }).then(
      (r) => r.status,
      () => 0,
    );
    expect([0, 500]).toContain(result);
    expect((await raw(bb.userProfileURL)).status).toBe(401);
  });
});

describe('emulator: odd requests', () => {
  it('answers each with Bitbucket\'s error, never a crash', async () => {
    await start({ scopes: ['account'], users: [{ displayName: 'No Primary', emails: [{ email: 'np@example.com', primary: false }] }, { displayName: 'B' }, { displayName: 'A' }] });
    const page = await (await fetch(`${bb.authorizationURL}?client_id=emulator-key&response_type=code`)).text();
    expect(page).not.toContain('read your email addresses');
    expect(page).toContain('Grant access as No Primary');
    const noUser = await fetch(bb.authorizationURL, { method: 'POST', body: new URLSearchParams({ client_id: 'emulator-key', decision: 'grant' }), redirect: 'manual' });
    expect(noUser.status).toBe(400);
    const get = await fetch(bb.tokenURL);
    expect(await get.json()).toMatchObject({ error: 'unsupported_grant_type' });
    expect((await tokenRequest({ grant_type: 'authorization_code' })).json['error']).toBe('invalid_grant');
    expect((await tokenRequest({ grant_type: 'refresh_token' })).json['error']).toBe('invalid_grant');
    expect((await api('/2.0/user', '')).status).toBe(401);
  });

  it('uses its defaults for drips, oversized bodies, code lifetimes and the authorize helper', async () => {
    const clock = new ManualClock();
    bb = await startBitbucketEmulator({ users: [{ displayName: 'W' }], faults: { token: { kind: 'oversize' } }, now: clock.now });
    expect(new URL(bb.authorize('w')).origin).toBe(bb.url);
    const big = await fetch(bb.tokenURL, { method: 'POST' });
    expect((await big.text()).length).toBe(2 * 1024 * 1024);
    bb.setFault('token', undefined);
    const code = (): string => new URL(bb.authorize('w')).searchParams.get('code')!;
    const fresh = code();
    const stale = code();
    clock.advance(10 * 60_000);
    expect((await tokenRequest({ grant_type: 'authorization_code', code: fresh })).status).toBe(200);
    clock.advance(1);
    expect((await tokenRequest({ grant_type: 'authorization_code', code: stale })).json['error']).toBe('invalid_grant');
    bb.setFault('user', { kind: 'drip' });
    const dripped = await fetch(bb.userProfileURL, { signal: AbortSignal.timeout(200) })
      .then((r) => r.text())
      .catch((error: unknown) => error);
    expect(dripped).toMatchObject({ name: 'TimeoutError' });
  });
});

// The bin, as the package ships it; it requires passport-bitbucket-auth/testing, mapped to the source here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run } = require('../bin/passport-bitbucket-auth.js') as { run: (args: string[], print: (line: string) => void) => Promise<{ close(): Promise<void> }> };

describe('npx passport-bitbucket-auth emulator', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill());

  /** Starts the command as a user would (with the package's source behind its name) and reads the variables it prints. */
  async function command(...args: string[]): Promise<Record<string, string>> {
    const cli = join(__dirname, '..', 'bin', 'passport-bitbucket-auth.js');
    child = spawn(process.execPath, ['-r', join(__dirname, 'readme', 'ts-hook.js'), cli, 'emulator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/^export BITBUCKET_(USER_WORKSPACES_URL|DC_ALLOW_INSECURE_HTTP)=/m.test(output)) resolve();
      });
      child!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child!.once('exit', (code) => reject(new Error(`the command exited with ${code}:\n${output}`)));
    });
    return Object.fromEntries([...output.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  }

  it('starts the Cloud emulator, prints what an app reads, signs a user in through it, and stops on Ctrl+C', async () => {
    const port = await freePort();
    const env = await command('--port', String(port));
    expect(env['BITBUCKET_AUTHORIZATION_URL']).toBe(`http://127.0.0.1:${port}/site/oauth2/authorize`);
    // The demo app, configured from those variables only.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createApp } = require('../example/app') as { createApp: (config: Record<string, unknown>) => (req: unknown, res: unknown) => void };
    const appPort = await freePort();
    const app = createServer(
      createApp({
        baseURL: `http://127.0.0.1:${appPort}`,
        clientID: env['BITBUCKET_CLIENT_ID'],
        clientSecret: env['BITBUCKET_CLIENT_SECRET'],
        authorizationURL: env['BITBUCKET_AUTHORIZATION_URL'],
        tokenURL: env['BITBUCKET_TOKEN_URL'],
        userProfileURL: env['BITBUCKET_USER_PROFILE_URL'],
        userEmailsURL: env['BITBUCKET_USER_EMAILS_URL'],
        userWorkspacesURL: env['BITBUCKET_USER_WORKSPACES_URL'],
      }),
    );
    await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
    try {
      const browser = new Browser();
      const consent = await browser.get((await browser.get(`http://127.0.0.1:${appPort}/auth/bitbucket`)).location!);
      const decision = await browser.post(env['BITBUCKET_AUTHORIZATION_URL']!, consentForm(consent.body, 'ada-lovelace'));
      const hops = await browser.follow(decision.location!);
      expect(hops[hops.length - 1]!.body).toContain('Ada Lovelace');
    } finally {
      app.closeAllConnections();
      await new Promise((resolve) => app.close(resolve));
    }
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 30_000);

  it('starts the Data Center emulator with --datacenter, with the variables the demo reads', async () => {
    const env = await command('--datacenter', '--port', '0', '--callback', 'http://localhost:3000/auth/bitbucket-dc/callback');
    expect(Object.keys(env)).toEqual(['BITBUCKET_DC_URL', 'BITBUCKET_DC_CLIENT_ID', 'BITBUCKET_DC_CLIENT_SECRET', 'BITBUCKET_DC_ALLOW_INSECURE_HTTP']);
    const who = await fetch(`${env['BITBUCKET_DC_URL']}/plugins/servlet/applinks/whoami`);
    expect(who.status).toBe(200);
  }, 30_000);

  it('defaults to ports 4000 and 7990 and refuses what it does not know', async () => {
    const lines: string[] = [];
    await expect(run(['emulator', '--port', '70000'], (l) => lines.push(l))).rejects.toThrow(/^Usage: passport-bitbucket-auth emulator/);
    await expect(run(['other'], (l) => lines.push(l))).rejects.toThrow(TypeError);
    await expect(run(['emulator', '--nope'], (l) => lines.push(l))).rejects.toThrow(/nope(.|\n)*\nUsage: passport-bitbucket-auth emulator/);
    for (const help of ['--help', '-h']) await expect(run([help], (l) => lines.push(l))).resolves.toBeUndefined();
    expect(lines.splice(0)).toEqual([expect.stringMatching(/^Usage: /), expect.stringMatching(/^Usage: /)]);
    for (const [args, url] of [[[], 'http://127.0.0.1:4000'], [['--datacenter'], 'http://127.0.0.1:7990']] as const) {
      const running = await run(['emulator', ...args], (l) => lines.push(l)).catch((error: unknown) => error);
      // The fixed port may be taken on a developer's machine (an emulator left running, as the README
      // suggests): then the error names it. Node's errors come from another realm than jest's Error.
      if (typeof (running as { close?: unknown }).close !== 'function') expect(String((running as Error).message)).toMatch(/EADDRINUSE/);
      else {
        expect(lines.join('\n')).toContain(`emulator at ${url}`);
        await (running as { close(): Promise<void> }).close();
      }
    }
  });
});
