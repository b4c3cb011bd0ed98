import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ModuleKind, ScriptTarget, transpileModule } from 'typescript';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';

let bitbucket: BitbucketEmulator | undefined;
const dir = mkdtempSync(join(tmpdir(), 'bitbucket-memory-'));
afterAll(async () => {
  await bitbucket?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** lib/ as CommonJS in `dir`: the child loads the package without a compiler in its heap. */
function transpileLibrary(): string {
  const root = join(__dirname, '..', 'lib');
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const source = join(entry.parentPath, entry.name);
    const target = join(dir, 'lib', relative(root, source)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    const { outputText } = transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { module: ModuleKind.CommonJS, target: ScriptTarget.ES2022, esModuleInterop: true } });
    writeFileSync(target, outputText);
  }
  return join(dir, 'lib', 'index.js');
}

it('holds no token, code or verifier once its logins and refresh have finished (a heap snapshot after GC)', async () => {
  bitbucket = await startBitbucketEmulator({ autoApprove: 'ada-lovelace' });
  const snapshot = join(dir, 'after.heapsnapshot');
  const library = transpileLibrary();
  const env = { ...process.env, NODE_PATH: join(__dirname, '..', 'node_modules'), MEMORY_TEST: JSON.stringify({ strategyOptions: bitbucket.strategyOptions, callbackURL: 'http://127.0.0.1:3000/cb', snapshot, library }) };
  const child = join(__dirname, 'memory', 'logins.js');
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', child], { env, timeout: 60_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
  const secrets = (JSON.parse(output) as string[]).map((base64) => Buffer.from(base64, 'base64').toString());
  // Two logins (verifier, code, access and refresh token each) and a refresh (two new tokens).
  expect(secrets).toHaveLength(10);
  expect(new Set(secrets).size).toBe(10);
  const heap = readFileSync(snapshot, 'utf8');
  expect(heap.length).toBeGreaterThan(1_000_000);
  expect(secrets.map((secret, i) => (heap.includes(secret) ? i : -1)).filter((i) => i >= 0)).toEqual([]);
}, 90_000);
