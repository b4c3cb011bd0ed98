'use strict';
/**
 * npm run test:consumers: packs the package with `npm pack`, installs the tarball into a fresh
 * temporary project, and checks it from there, as users get it:
 * - CommonJS `require` and ESM `import { Strategy }` (with the testing entry point);
 * - a strict TypeScript Express app type-checked with @types/passport and @types/express,
 *   with moduleResolution node16, bundler and node10;
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
  const tarball = sh('npm', ['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').pop();
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  const dev = pkg.devDependencies;
  sh('npm', ['install', '--no-audit', '--no-fund', '--silent', path.join(work, tarball),
    `passport@${dev.passport}`, `express@${dev.express}`, `typescript@${dev.typescript}`, '@types/express', '@types/passport', '@types/node@20'], app);
  for (const file of ['cjs.cjs', 'esm.mjs', 'app.ts']) fs.copyFileSync(path.join(__dirname, 'consumers', file), path.join(app, file));

  check('CommonJS require', () => sh(process.execPath, ['cjs.cjs'], app));
  check('ESM import { Strategy }', () => sh(process.execPath, ['esm.mjs'], app));
  for (const [module, resolution] of [['node16', 'node16'], ['esnext', 'bundler'], ['commonjs', 'node10']]) {
    check(`strict TypeScript app (module ${module}, moduleResolution ${resolution})`, () => {
      const tsconfig = {
        compilerOptions: {
          strict: true, noEmit: true, target: 'ES2022', module, moduleResolution: resolution,
          esModuleInterop: true, skipLibCheck: false, types: ['node'], exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
        },
        files: ['app.ts'],
      };
      fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
      sh(process.execPath, [path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app);
    });
  }
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
