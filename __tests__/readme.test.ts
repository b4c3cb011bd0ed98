/**
 * The README and the guides in docs/ show only code that works: every ```ts block type-checks
 * on its own (strict, as tsconfig.json), and the Usage example runs as written and signs in
 * against the emulator.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import ts from 'typescript';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { Browser } from './helpers/demo';
import { freePort } from './helpers/server';
import { blocksOf, dataCenterApp, ROOT, runApp, usageApp, WORK } from './readme/blocks';


const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
// The Data Center section is a diff against the Usage app: the app it makes is checked too.
const all = [...documents.flatMap((file) => blocksOf(file)), { name: 'README.md Usage app with the Data Center diff', code: dataCenterApp() }];

describe('the code blocks of README.md and docs/', () => {
  beforeAll(() => mkdirSync(WORK, { recursive: true }));

  it('are there to check', () => {
    expect(blocksOf('README.md').length).toBeGreaterThanOrEqual(2);
  });

  it.each(all.map((b) => [b.name, b.code] as const))('%s type-checks on its own', (name, code) => {
    const file = join(WORK, `${name.replace(/[^a-z0-9]+/gi, '-')}.ts`);
    writeFileSync(file, code.includes('import ') || code.includes('export ') ? code : `${code}\nexport {};\n`);
    const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
    const options: ts.CompilerOptions = {
      ...config.options,
      noEmit: true,
      noUnusedLocals: false,
      noUnusedParameters: false,
      types: ['node'],
      baseUrl: ROOT,
      paths: { 'passport-bitbucket-auth': ['lib/index.ts'], 'passport-bitbucket-auth/testing': ['lib/testing/index.ts'] },
    };
    const program = ts.createProgram([file], options);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 60_000);
});

describe('the README\'s Usage example', () => {
  let bitbucket: BitbucketEmulator | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill();
    await bitbucket?.close();
  });

  it('runs as written and signs in against the emulator', async () => {
    const usage = usageApp();
    expect(usage).toContain('app.listen(');
    bitbucket = await startBitbucketEmulator({ autoApprove: 'ada-lovelace' });
    const { clientID, clientSecret, ...urls } = bitbucket.strategyOptions;
    const port = await freePort();
    const app = runApp(usage, 'usage', port, { BITBUCKET_CLIENT_ID: clientID, BITBUCKET_CLIENT_SECRET: clientSecret, EMULATOR_OPTIONS: JSON.stringify(urls) });
    child = app.child;
    await app.ready;

    const browser = new Browser();
    const base = `http://localhost:${port}`;
    expect((await browser.get(`${base}/`)).location).toBe('/login');
    expect((await browser.get(`${base}/login`)).body).toContain('href="/auth/bitbucket"');
    const hops = await browser.follow(`${base}/auth/bitbucket`);
    const last = hops[hops.length - 1]!;
    expect(last.url).toBe(`${base}/`);
    expect(JSON.parse(last.body)).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}', name: 'Ada Lovelace', email: 'ada@example.com' });
  }, 30_000);

  it('reports a busy port and exits non-zero', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, resolve));
    const { port } = busy.address() as { port: number };
    try {
      const app = runApp(usageApp(), 'usage-busy', port, { BITBUCKET_CLIENT_ID: 'key', BITBUCKET_CLIENT_SECRET: 'secret' });
      child = app.child;
      expect(await app.exit).not.toBe(0);
      expect(app.output()).toContain('EADDRINUSE');
      expect(app.output()).not.toContain('Open http');
    } finally {
      busy.close();
    }
  }, 30_000);
});
