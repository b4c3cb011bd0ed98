/**
 * The README and the guides in docs/ show only code that works: every ```ts block type-checks
 * on its own (strict, as tsconfig.json), and the Usage example runs as written and signs in
 * against the emulator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { Browser } from './helpers/demo';
import { freePort } from './helpers/server';

const ROOT = join(__dirname, '..');
// Under node_modules, so that the blocks resolve the project's packages as an app would.
const WORK = join(ROOT, 'node_modules', '.cache', 'readme-blocks');

function blocks(file: string): Array<{ name: string; code: string }> {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, i) => ({ name: `${file} block ${i + 1}`, code: match[1] ?? '' }));
}

const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const all = documents.flatMap(blocks);

describe('the code blocks of README.md and docs/', () => {
  beforeAll(() => mkdirSync(WORK, { recursive: true }));

  it('are there to check', () => {
    expect(blocks('README.md').length).toBeGreaterThanOrEqual(3);
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
    const usage = readFileSync(join(ROOT, 'README.md'), 'utf8').split('## Usage')[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
    expect(usage).toContain('app.listen(');
    const { outputText } = ts.transpileModule(usage!, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    mkdirSync(WORK, { recursive: true });
    writeFileSync(join(WORK, 'usage.js'), outputText);

    bitbucket = await startBitbucketEmulator({ autoApprove: 'ada-lovelace' });
    const { clientID, clientSecret, ...urls } = bitbucket.strategyOptions;
    const port = await freePort();
    child = spawn(process.execPath, ['-r', join(__dirname, 'readme', 'ts-hook.js'), join(WORK, 'usage.js')], {
      env: { ...process.env, PORT: String(port), BITBUCKET_CLIENT_ID: clientID, BITBUCKET_CLIENT_SECRET: clientSecret, EMULATOR_OPTIONS: JSON.stringify(urls) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`Open http://localhost:${port}/login`)) resolve();
      });
      child!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child!.once('exit', (code) => reject(new Error(`the app exited with ${code}:\n${output}`)));
    });

    const browser = new Browser();
    const base = `http://localhost:${port}`;
    expect((await browser.get(`${base}/`)).location).toBe('/login');
    expect((await browser.get(`${base}/login`)).body).toContain('href="/auth/bitbucket"');
    const hops = await browser.follow(`${base}/auth/bitbucket`);
    const last = hops[hops.length - 1]!;
    expect(last.url).toBe(`${base}/`);
    expect(JSON.parse(last.body)).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}', name: 'Ada Lovelace', email: 'ada@example.com' });
  }, 30_000);
});
