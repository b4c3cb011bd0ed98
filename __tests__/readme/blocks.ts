// Reading code out of the README and docs/, for the tests that check and run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');
// Under node_modules, so that the blocks resolve the project's packages as an app would.
export const WORK = join(ROOT, 'node_modules', '.cache', 'readme-blocks');

export interface Block {
  name: string;
  code: string;
}

/** The fenced blocks of one language in a file, numbered from 1 in order. */
export function blocksOf(file: string, lang = 'ts'): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m, i) => ({ name: `${file} block ${i + 1}`, code: m[1] ?? '' }));
}

/** The first ```lang block after a README heading. */
function readmeBlock(heading: string, lang: string): string {
  const code = readFileSync(join(ROOT, 'README.md'), 'utf8').split(`\n${heading}\n`)[1]?.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'))?.[1];
  if (code === undefined) throw new Error(`README.md has no \`\`\`${lang} block under ${heading}`);
  return code;
}

/** Applies a unified diff's hunks to `source`: each hunk's old lines must occur exactly once. */
export function applyDiff(source: string, diff: string): string {
  let result = source;
  for (const hunk of diff.split(/^@@.*$/m)) {
    const lines = hunk.split('\n').filter((l) => l !== '');
    const before = lines.filter((l) => !l.startsWith('+')).map((l) => l.slice(1)).join('\n');
    const after = lines.filter((l) => !l.startsWith('-')).map((l) => l.slice(1)).join('\n');
    const found = result.split(before).length - 1;
    if (found !== 1) throw new Error(`a hunk of the diff matches ${found} places, not one:\n${before}`);
    result = result.replace(before, after);
  }
  return result;
}

/** The README's Usage app. */
export const usageApp = (): string => readmeBlock('## Usage', 'ts');

/** The README's Usage app with the Data Center section's diff applied. */
export const dataCenterApp = (): string => applyDiff(usageApp(), readmeBlock('## Bitbucket Data Center', 'diff'));

export interface RunningApp {
  child: ChildProcess;
  /** Resolves once the app prints `Open http://localhost:<port>/login`; rejects if it exits first. */
  ready: Promise<void>;
  /** The exit code, once the app has exited. */
  exit: Promise<number | null>;
  /** What the app printed so far, stdout and stderr. */
  output(): string;
}

/** Runs a README app (TypeScript source) in a child process, as `node` would run it compiled (see ts-hook.js). */
export function runApp(code: string, name: string, port: number, env: Record<string, string>): RunningApp {
  const { outputText } = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  mkdirSync(WORK, { recursive: true });
  const file = join(WORK, `${name}.js`);
  writeFileSync(file, outputText);
  const child = spawn(process.execPath, ['-r', join(__dirname, 'ts-hook.js'), file], {
    // Nothing of Bitbucket's from the shell running the tests: the app gets `env` alone.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BITBUCKET_'))), PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`Open http://localhost:${port}/login`)) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exit.then((exitCode) => reject(new Error(`the app exited with ${exitCode}:\n${output}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exit, output: () => output };
}
