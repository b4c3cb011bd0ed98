'use strict';
/**
 * npm run test:consumers: packs the package with `npm pack`, installs the tarball into a fresh
 * temporary project, and checks it from there, as users get it:
 * - CommonJS `require` and ESM `import { Strategy }` (with the testing entry point);
 * - a strict TypeScript Express 5 app type-checked with @types/passport and @types/express,
 *   with moduleResolution node16, bundler and node10, and the same app on Express 4 with
 *   @types/express 4 and passport 0.6, with no second copy of @types/express installed; each
 *   under TypeScript 7 (what `npm install -D typescript` gives today) and 5.9 (node10
 *   under 5.9 only: TypeScript 7 removed it);
 * - what a plain JavaScript app installs with it (packages, MB), beside the peer packages;
 * - the published .d.ts files import only modules that the package's dependencies provide.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-consumers-'));
let failures = 0;
const check = (name, fn) => {
  try {
    fn();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}\n${error.stdout || ''}${error.message}`);
  }
};

try {
  const tarball = path.join(work, sh('npm', ['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').pop());
  /** A fresh app in work/<name> with these packages installed. */
  const install = (name, packages) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true }));
    sh('npm', ['install', '--no-audit', '--no-fund', '--silent', ...packages], dir);
    return dir;
  };
  // Each project installs both compilers, under their own names.
  const COMPILERS = [
    ['7', 'typescript-7', 'typescript@^7.0.0'],
    ['5.9', 'typescript-59', `typescript@${pkg.devDependencies.typescript}`],
  ];
  const compilerPackages = COMPILERS.map(([, alias, spec]) => `${alias}@npm:${spec}`);
  const typecheck = (dir, module, resolution, alias) => {
    const tsconfig = {
      compilerOptions: {
        strict: true, noEmit: true, target: 'ES2022', module, moduleResolution: resolution,
        esModuleInterop: true, skipLibCheck: false, types: ['node'], exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
      },
      files: ['app.ts'],
    };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    sh(process.execPath, [path.join(dir, 'node_modules', alias, 'bin', 'tsc'), '-p', '.'], dir);
  };
  /** The type checks of one project: each module setting under each compiler that has it. */
  const typechecks = (dir, label, settings) => {
    for (const [version, alias] of COMPILERS) {
      for (const [module, resolution] of settings) {
        if (resolution === 'node10' && version !== '5.9') continue; // removed in TypeScript 7
        check(`${label}, TypeScript ${version} (module ${module}, moduleResolution ${resolution})`, () => typecheck(dir, module, resolution, alias));
      }
    }
  };
  /** Every installed copy of a package, at any depth. */
  const copies = (dir, name) => {
    const found = [];
    const walk = (modules) => {
      if (!fs.existsSync(modules)) return;
      for (const entry of fs.readdirSync(modules)) {
        const scoped = entry.startsWith('@') ? fs.readdirSync(path.join(modules, entry)).map((e) => `${entry}/${e}`) : [entry];
        for (const pkgName of scoped) {
          const at = path.join(modules, pkgName);
          if (pkgName === name) found.push(path.relative(dir, at));
          walk(path.join(at, 'node_modules'));
        }
      }
    };
    walk(path.join(dir, 'node_modules'));
    return found;
  };
  /** Packages and megabytes under node_modules. */
  const footprint = (dir) => {
    const names = new Set();
    let bytes = 0;
    const walk = (p) => {
      for (const entry of fs.readdirSync(p, { withFileTypes: true })) {
        const at = path.join(p, entry.name);
        if (entry.isDirectory()) walk(at);
        else if (entry.isFile()) {
          bytes += fs.statSync(at).size;
          if (entry.name === 'package.json' && path.basename(path.dirname(path.dirname(at))).match(/^(node_modules|@.*)$/)) names.add(path.relative(dir, path.dirname(at)));
        }
      }
    };
    walk(path.join(dir, 'node_modules'));
    return { packages: names.size, mb: (bytes / 1048576).toFixed(1) };
  };

  const dev = pkg.devDependencies;
  const app = install('app', [tarball, `passport@${dev.passport}`, `express@${dev.express}`, ...compilerPackages, '@types/express', '@types/passport', '@types/node@20']);
  for (const file of ['cjs.cjs', 'esm.mjs', 'app.ts']) fs.copyFileSync(path.join(__dirname, 'consumers', file), path.join(app, file));

  check('CommonJS require', () => sh(process.execPath, ['cjs.cjs'], app));
  check('ESM import { Strategy }', () => sh(process.execPath, ['esm.mjs'], app));
  typechecks(app, 'strict TypeScript Express 5 app', [['node16', 'node16'], ['esnext', 'bundler'], ['commonjs', 'node10']]);
  const express4 = install('express4', [tarball, 'passport@^0.6.0', 'express@^4.21.2', ...compilerPackages, '@types/express@^4.17.21', '@types/passport', '@types/node@20']);
  fs.copyFileSync(path.join(__dirname, 'consumers', 'app.ts'), path.join(express4, 'app.ts'));
  check('Express 4: one copy of @types/express, the app\'s own (4.x)', () => {
    const found = copies(express4, '@types/express');
    const version = JSON.parse(fs.readFileSync(path.join(express4, 'node_modules', '@types', 'express', 'package.json'), 'utf8')).version;
    if (found.length !== 1 || !version.startsWith('4.')) throw new Error(`copies: ${found.join(', ')}; root version ${version}`);
  });
  typechecks(express4, 'strict TypeScript Express 4 app, passport 0.6', [['node16', 'node16'], ['esnext', 'bundler']]);
  check('what a plain JavaScript app installs, beside the peer packages', () => {
    const rows = [
      [pkg.name, footprint(install('js', [tarball]))],
      ['passport-bitbucket-oauth2', footprint(install('js-oauth2', [`passport-bitbucket-oauth2@${dev['passport-bitbucket-oauth2']}`]))],
      ['passport-bitbucket-oauth20', footprint(install('js-oauth20', [`passport-bitbucket-oauth20@${dev['passport-bitbucket-oauth20']}`]))],
    ];
    for (const [name, { packages, mb }] of rows) console.log(`     ${name.padEnd(28)} ${String(packages).padStart(3)} packages  ${mb.padStart(5)} MB`);
  });
  check('the .d.ts files import only what the dependencies provide', () => {
    const dist = path.join(app, 'node_modules', pkg.name, 'dist');
    const allowed = new Set(Object.keys(pkg.dependencies).map((d) => d.replace(/^@types\//, '')));
    const problems = [];
    const walk = (dir) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.d.ts')) {
          for (const [, spec] of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)) {
            if (spec.startsWith('.') || spec.startsWith('node:')) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
            if (!allowed.has(name)) problems.push(`${path.relative(dist, file)} imports ${spec}`);
          }
        }
      }
    };
    walk(dist);
    if (problems.length) throw new Error(problems.join('\n'));
  });
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

console.log(failures ? `${failures} consumer check(s) failed` : 'all consumer checks passed');
process.exitCode = failures ? 1 : 0;
