import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Browser, consentForm, signInThroughDemo, startDemo, type Demo } from './helpers/demo';
import { ManualClock } from './helpers/wait';

describe('the demo app against the emulator, over real HTTP', () => {
  let demo: Demo;
  afterEach(async () => {
    await demo.close();
  });

  it('signs in with Grant, shows the profile, and signs out', async () => {
    demo = await startDemo();
    const browser = new Browser();
    const home = await browser.get(`${demo.url}/`);
    expect(home.body).toContain('id="sign-in"');
    expect(home.body).toContain('id="emulator-banner"');

    const { final } = await signInThroughDemo(demo, browser, 'ada-lovelace');
    expect(final.url).toBe(`${demo.url}/profile`);
    expect(final.status).toBe(200);
    expect(final.body).toContain('<dd id="display-name">Ada Lovelace</dd>');
    expect(final.body).toContain('<dd id="username">ada-lovelace</dd>');
    expect(final.body).toContain('{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}');
    expect(final.body).toContain('5c65cab48bcc9e016aeece31');
    expect(final.body).toMatch(/ada@example\.com <span class="tag">primary<\/span> <span class="tag ok">verified<\/span>/);
    expect(final.body).toContain('ada.lovelace@example.org');
    expect(final.body).not.toContain('ada@unconfirmed.example.net');
    expect(final.body).toMatch(/<img id="avatar" src="http:\/\/127\.0\.0\.1:\d+\/avatars\//);
    expect(demo.emulator.stats).toMatchObject({ token: 1, user: 1, emails: 1 });

    const out = await browser.post(`${demo.url}/logout`, {});
    expect(out).toMatchObject({ status: 302, location: '/' });
    const after = await browser.get(`${demo.url}/profile`);
    expect(after).toMatchObject({ status: 302, location: '/' });
  });

  it('shows a user without a username', async () => {
    demo = await startDemo();
    const grace = await signInThroughDemo(demo, new Browser(), '{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}');
    expect(grace.final.body).toContain('<i>not provided by Bitbucket</i>');
  });

  it('shows a friendly page when the user denies access', async () => {
    demo = await startDemo();
    const { callback, final } = await signInThroughDemo(demo, new Browser(), 'deny');
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    expect(final.status).toBe(401);
    expect(final.body).toContain('id="denied"');
    expect(demo.emulator.stats.token).toBe(0);
  });

  it('refuses a forged state without asking Bitbucket for a token', async () => {
    demo = await startDemo();
    const browser = new Browser();
    const start = await browser.get(`${demo.url}/auth/bitbucket`);
    const state = new URL(start.location!).searchParams.get('state')!;
    const forged = demo.emulator.authorize('ada-lovelace', { redirect_uri: `${demo.url}/auth/bitbucket/callback`, state: `${state}x` });
    const page = await browser.get(forged);
    expect(page.status).toBe(403);
    expect(page.body).toContain('id="forged-state"');
    expect(demo.emulator.stats.token).toBe(0);
    // The forged attempt did not use up the state: the genuine callback signs in, once; its replay is refused.
    const genuine = demo.emulator.authorize('ada-lovelace', { redirect_uri: `${demo.url}/auth/bitbucket/callback`, state });
    expect((await browser.get(genuine)).location).toBe('/profile');
    expect((await browser.get(genuine)).status).toBe(403);
    expect(demo.emulator.stats.token).toBe(1);
  });

  it('shows Bitbucket\'s error page, and no redirect, for a redirect_uri outside the callback URL', async () => {
    demo = await startDemo();
    const url = new URL(demo.emulator.authorizationURL);
    url.search = new URLSearchParams({ client_id: demo.emulator.clientID, response_type: 'code', redirect_uri: 'https://evil.example.com/cb' }).toString();
    const page = await new Browser().get(url.href);
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(page.body).toContain('does not match the Callback URL');
  });

  it('shows a friendly page for an expired code', async () => {
    const clock = new ManualClock();
    demo = await startDemo({ codeLifetimeMs: 30, now: clock.now });
    const browser = new Browser();
    const start = await browser.get(`${demo.url}/auth/bitbucket`);
    const consent = await browser.get(start.location!);
    const decision = await browser.post(demo.emulator.authorizationURL, consentForm(consent.body, 'ada-lovelace'));
    clock.advance(31);
    const page = await browser.get(decision.location!);
    expect(page.status).toBe(400);
    expect(page.body).toContain('id="token-error"');
    expect(page.body).toContain('invalid_grant');
  });

  it('shows a friendly page when Bitbucket is down', async () => {
    demo = await startDemo();
    demo.emulator.setFault('user', { kind: 'status', status: 503, body: '<html>Service Unavailable</html>', contentType: 'text/html' });
    const { final } = await signInThroughDemo(demo, new Browser());
    expect(final.status).toBe(502);
    expect(final.body).toContain('id="bitbucket-down"');
    expect(final.body).not.toContain('<html>Service');
  });

  it('shows a friendly page when Bitbucket stalls, after the timeout', async () => {
    // 300 ms: the answered requests keep a margin on a loaded machine; the stalled one meets the login's deadline.
    demo = await startDemo({}, { timeout: 300 });
    demo.emulator.setFault('emails', { kind: 'stall' });
    const { final } = await signInThroughDemo(demo, new Browser());
    expect(final.status).toBe(502);
    expect(final.body).toContain('deadline of 900 ms');
  });

  it('offers Bitbucket Data Center beside Cloud, and signs in with it', async () => {
    demo = await startDemo({}, {}, true);
    const browser = new Browser();
    const home = await browser.get(`${demo.url}/`);
    expect(home.body).toContain('id="sign-in-dc"');
    const start = await browser.get(`${demo.url}/auth/bitbucket-dc`);
    expect(start.location).toMatch(/\/rest\/oauth2\/latest\/authorize\?/);
    const consent = await browser.get(start.location!);
    const decision = await browser.post(new URL(start.location!).origin + new URL(start.location!).pathname, consentForm(consent.body, 'jdoe'));
    const hops = await browser.follow(decision.location!);
    const profile = hops[hops.length - 1]!;
    expect(profile.url).toBe(`${demo.url}/profile`);
    expect(profile.body).toContain('<dd id="display-name">Jane Doe</dd>');
    expect(profile.body).toContain('User ID (Data Center)');
    // A deactivated account gets the refusal page, not a profile.
    const again = new Browser();
    const second = await again.get(`${demo.url}/auth/bitbucket-dc`);
    const page = await again.get(second.location!);
    const refused = await again.post(new URL(second.location!).origin + new URL(second.location!).pathname, consentForm(page.body, 'gone'));
    const end = (await again.follow(refused.location!)).pop()!;
    expect(end.status).toBe(403);
    expect(end.body).toContain('deactivated');
  });

  it('speaks of Data Center on its Data Center pages, with a working avatar and Try again there', async () => {
    demo = await startDemo({}, {}, true);
    const signInDC = async (user: string | 'deny') => {
      const browser = new Browser();
      const start = await browser.get(`${demo.url}/auth/bitbucket-dc`);
      const authorize = new URL(start.location!);
      const consent = await browser.get(authorize.href);
      const decision = await browser.post(authorize.origin + authorize.pathname, consentForm(consent.body, user));
      return { browser, page: (await browser.follow(decision.location!)).pop()! };
    };
    const tryAgain = (html: string) => /<a class="button" id="try-again" href="([^"]+)">Try again<\/a>/.exec(html)?.[1];

    const home = await new Browser().get(`${demo.url}/`);
    for (const variable of ['BITBUCKET_CLIENT_ID', 'BITBUCKET_DC_URL', 'BITBUCKET_DC_CLIENT_ID', 'BITBUCKET_DC_CLIENT_SECRET']) expect(home.body).toContain(variable);

    const { browser, page: profile } = await signInDC('jdoe');
    const avatar = /<img id="avatar" src="([^"]+)"/.exec(profile.body)?.[1];
    expect(avatar).toBeDefined();
    const image = await browser.get(avatar!.replace(/&#38;/g, '&'));
    expect(image.status).toBe(200);
    expect(image.body).toContain('<svg');
    const link = /<dt>Profile<\/dt><dd><a href="([^"]+)"/.exec(profile.body)?.[1];
    expect((await browser.get(link!)).status).toBe(200);

    const { page: inactive } = await signInDC('gone');
    expect(inactive.status).toBe(403);
    expect(inactive.body).toContain('<h1>Account deactivated</h1>');
    expect(inactive.body).toContain('Bitbucket Data Center account is deactivated');
    expect(inactive.body).not.toContain('workspace');
    expect(tryAgain(inactive.body)).toBe('/auth/bitbucket-dc');

    const { page: denied } = await signInDC('deny');
    expect(denied.body).toContain('You declined to share your Bitbucket Data Center account');
    expect(tryAgain(denied.body)).toBe('/auth/bitbucket-dc');
    // Cloud's pages still send the user back to Cloud.
    const cloud = await signInThroughDemo(demo, new Browser(), 'deny');
    expect(cloud.final.body).toContain('You declined to share your Bitbucket account');
    expect(tryAgain(cloud.final.body)).toBe('/auth/bitbucket');
  });

  it('restricts sign-in to workspace members when configured', async () => {
    demo = await startDemo({}, { workspaces: ['analytical-engines'] });
    const ada = await signInThroughDemo(demo, new Browser(), 'ada-lovelace');
    expect(ada.final.body).toMatch(/<ul id="workspaces"><li>Analytical Engines <code>analytical-engines<\/code> <span class="tag">owner<\/span><\/li><\/ul>/);
    const edsger = await signInThroughDemo(demo, new Browser(), 'ewd');
    expect(edsger.final.status).toBe(403);
    expect(edsger.final.body).toContain('id="not-member"');
    expect(demo.emulator.stats.workspacePermission).toBe(2);
    expect(demo.emulator.stats.workspaces).toBe(0);
  });
});

describe('npm start', () => {
  it('reports a busy PORT and exits with 1, without saying it is running', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const child = spawn(process.execPath, [join(__dirname, '..', 'example', 'server.js')], {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', BITBUCKET_CLIENT_ID: '', REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(stderr).toContain(`Could not start the demo on 127.0.0.1:${port}`);
      expect(stderr).toContain('EADDRINUSE');
      expect(stderr).toContain('set PORT');
      expect(stdout).not.toContain('Demo running');
      expect(code).toBe(1);
    } finally {
      busy.close();
    }
  }, 20_000);
});
