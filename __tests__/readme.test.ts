/**
 * The README and the guides in docs/ show only code that works: every ```ts block type-checks
 * on its own (strict, as tsconfig.json), and the Usage example runs as written and signs in
 * against the emulator that `npx passport-bitbucket-auth emulator` starts, configured only by
 * the variables that command prints.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import ts from 'typescript';
import { Browser, consentForm } from './helpers/demo';
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

  it('fit a README of at most 350 lines (the rest is in docs/)', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(350);
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
    // The block's own problems (lib/ itself is type-checked by `npm run typecheck`).
    const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 60_000);
});

// The bin, as the package ships it (passport-bitbucket-auth/testing is the source here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run: emulatorCommand } = require('../bin/passport-bitbucket-auth.js') as {
  run: (args: string[], print: (line: string) => void) => Promise<{ close(): Promise<void> }>;
};

describe('the README\'s Usage example', () => {
  let bitbucket: { close(): Promise<void> } | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill();
    await bitbucket?.close();
  });

  it('runs as written and signs in against `npx passport-bitbucket-auth emulator`, from the variables it prints', async () => {
    const usage = usageApp();
    expect(usage).toContain('app.listen(');
    // What the command does, on any free port; the app gets what it prints and nothing else.
    const printed: string[] = [];
    bitbucket = await emulatorCommand(['emulator', '--port', '0'], (line) => printed.push(line));
    const env = Object.fromEntries(printed.flatMap((line) => [...line.matchAll(/^export (\w+)=(\S+)$/g)].map((m) => [m[1]!, m[2]!])));
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['BITBUCKET_CLIENT_ID', 'BITBUCKET_CLIENT_SECRET', 'BITBUCKET_AUTHORIZATION_URL', 'BITBUCKET_USER_WORKSPACES_URL']));
    for (const name of Object.keys(env)) expect(usage).toContain(`process.env['${name}']`);
    const port = await freePort();
    const app = runApp(usage, 'usage', port, env);
    child = app.child;
    await app.ready;

    // As a newcomer would: the login page, the emulator's consent page, Grant as Ada.
    const browser = new Browser();
    const base = `http://localhost:${port}`;
    expect((await browser.get(`${base}/`)).location).toBe('/login');
    expect((await browser.get(`${base}/login`)).body).toContain('href="/auth/bitbucket"');
    const start = await browser.get(`${base}/auth/bitbucket`);
    expect(start.location).toMatch(new RegExp(`^${env['BITBUCKET_AUTHORIZATION_URL']}\\?`));
    const consent = await browser.get(start.location!);
    const decision = await browser.post(env['BITBUCKET_AUTHORIZATION_URL']!, consentForm(consent.body, 'ada-lovelace'));
    const hops = await browser.follow(decision.location!);
    const last = hops[hops.length - 1]!;
    expect(last.url).toBe(`${base}/`);
    expect(JSON.parse(last.body)).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}', name: 'Ada Lovelace', email: 'ada@example.com' });
  }, 30_000);

  it('sends users to bitbucket.org when the emulator\'s variables are unset', async () => {
    const port = await freePort();
    const app = runApp(usageApp(), 'usage-bitbucket', port, { BITBUCKET_CLIENT_ID: 'key', BITBUCKET_CLIENT_SECRET: 'secret' });
    child = app.child;
    await app.ready;
    const start = await new Browser().get(`http://localhost:${port}/auth/bitbucket`);
    expect(start.location).toMatch(/^https:\/\/bitbucket\.org\/site\/oauth2\/authorize\?/);
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
