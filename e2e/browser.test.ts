import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../__tests__/helpers/server';

const ROOT = join(__dirname, '..');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SCREENSHOTS = join(ROOT, 'test-results');

/** Starts `node example/server.js` (what `npm start` runs after building) and waits for it. */
async function startDemo(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  let output = '';
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${port}` };
  delete env['BITBUCKET_CLIENT_ID'];
  delete env['BITBUCKET_CLIENT_SECRET'];
  const child = spawn(process.execPath, [join(ROOT, 'example', 'server.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Resolves on the output line that says it listens; fails if it exits or takes too long.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the demo did not start in 15 s:\n${output}`)), 15_000);
    const onData = (): void => {
      if (output.includes('Demo running at')) done();
    };
    const onExit = (): void => done(new Error(`the demo exited before it started:\n${output}`));
    function done(error?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return { child, output: () => output };
}

/** A full-page screenshot in test-results/, checked to be more than an empty page. */
async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(statSync(file).size).toBeGreaterThan(1000);
}

/** The page's text, whitespace collapsed. */
const text = async (page: Page, selector: string): Promise<string> => ((await page.locator(selector).textContent()) ?? '').replace(/\s+/g, ' ').trim();

describe('sign in with Bitbucket in a real browser', () => {
  let browser: Browser;
  let demo: { child: ChildProcess; output: () => string };
  let base: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run npm run build first');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    demo = await startDemo(port);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    demo?.child.kill('SIGTERM');
  });

  it('says it runs on the emulator, signs in, shows the profile, and signs out', async () => {
    expect(demo.output()).toContain('using the local Bitbucket emulator');
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    expect(await page.locator('#emulator-banner').isVisible()).toBe(true);
    const banner = await text(page, '#emulator-banner');
    for (const variable of ['BITBUCKET_CLIENT_ID', 'BITBUCKET_CLIENT_SECRET', 'BITBUCKET_DC_URL', 'BITBUCKET_DC_CLIENT_ID', 'BITBUCKET_DC_CLIENT_SECRET']) {
      expect(banner).toContain(variable);
    }

    await page.click('#sign-in');
    await page.waitForSelector('button[data-user="ada-lovelace"]');
    expect(await page.title()).toContain('Authorize access');
    await page.click('button[data-user="ada-lovelace"]');

    await page.waitForURL(`${base}/profile`);
    expect(await page.locator('#display-name').textContent()).toBe('Ada Lovelace');
    expect(await page.locator('#uuid').textContent()).toBe('{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}');
    expect(await page.locator('#emails li').allTextContents()).toEqual([
      'ada@example.com primary verified',
      'ada.lovelace@example.org verified',
    ]);
    const avatarWidth = await page.locator('#avatar').evaluate((img: HTMLImageElement) => img.naturalWidth);
    expect(avatarWidth).toBeGreaterThan(0);

    await shoot(page, 'cloud-profile');

    await page.click('#sign-out');
    await page.waitForURL(`${base}/`);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    await page.goto(`${base}/profile`);
    expect(page.url()).toBe(`${base}/`);
    await page.close();
  });

  it('signs in with Bitbucket Data Center from the second button', async () => {
    expect(demo.output()).toContain('local Bitbucket Data Center emulator');
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.click('#sign-in-dc');
    await page.waitForSelector('button[data-user="jdoe"]');
    await page.click('button[data-user="jdoe"]');
    await page.waitForURL(`${base}/profile`);
    expect(await page.locator('#display-name').textContent()).toBe('Jane Doe');
    expect(await page.locator('#uuid').textContent()).toBe('101');
    expect(await page.locator('#emails li').allTextContents()).toEqual(['jdoe@example.com primary unverified']);
    // The avatar the instance points at loads (made absolute from Data Center's relative one).
    const avatarWidth = await page.locator('#avatar').evaluate((img: HTMLImageElement) => img.naturalWidth);
    expect(avatarWidth).toBeGreaterThan(0);
    await shoot(page, 'datacenter-profile');
    await page.click('#sign-out');
    await page.waitForURL(`${base}/`);
    await page.close();
  });

  it('shows the friendly page when the user denies access, and tries again with Cloud', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.click('#sign-in');
    await page.click('button[data-deny]');
    await page.waitForSelector('#denied');
    expect(await page.locator('h1').textContent()).toBe('Sign-in cancelled');
    expect(await text(page, '#denied')).toBe('You declined to share your Bitbucket account, so you are not signed in.');
    expect(await page.locator('#try-again').getAttribute('href')).toBe('/auth/bitbucket');
    await shoot(page, 'cloud-denied');
    await page.close();
  });

  it('speaks of Data Center when a Data Center user is refused or denies, and tries again there', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.click('#sign-in-dc');
    await page.click('button[data-user="gone"]');
    await page.waitForSelector('#inactive');
    expect(await page.locator('h1').textContent()).toBe('Account deactivated');
    const refusal = await text(page, '#inactive');
    expect(refusal).toContain('Bitbucket Data Center account is deactivated');
    expect(refusal).toContain('Ask an administrator of your Bitbucket Data Center to reactivate it');
    expect(refusal).not.toContain('workspace');
    expect(await page.locator('#try-again').getAttribute('href')).toBe('/auth/bitbucket-dc');
    await shoot(page, 'datacenter-inactive');

    await page.click('#try-again');
    await page.click('button[data-deny]');
    await page.waitForSelector('#denied');
    expect(await text(page, '#denied')).toBe('You declined to share your Bitbucket Data Center account, so you are not signed in.');
    expect(await page.locator('#try-again').getAttribute('href')).toBe('/auth/bitbucket-dc');
    await shoot(page, 'datacenter-denied');
    await page.close();
  });
});
