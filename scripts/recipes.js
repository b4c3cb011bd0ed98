'use strict';
/**
 * npm run test:recipes: each folder of recipes/ installed as its own app from the packed
 * tarball (with the versions its package.json names), type-checked with its tsconfig.json if it
 * has one, under TypeScript 7 and 5.9 both (`npm install -D typescript` gives 7 today; 5.9 is
 * what many projects still pin), built with its own, started, and signed in through against
 * the emulator, as a user would copy it. Needs the npm registry; `npm run build` first.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createRequire } = require('node:module');
const { browser } = require('../support/browser');

const ROOT = path.join(__dirname, '..');
const NAME = require('../package.json').name;
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
// The compilers every TypeScript recipe must type-check under, installed once per run.
const COMPILERS = { '7': 'typescript@^7.0.0', '5.9': 'typescript@~5.9.3' };

async function signIn(dir) {
  const load = createRequire(path.join(dir, 'package.json'));
  const { startBitbucketEmulator } = load(`${NAME}/testing`);
  const { start } = load('./app.js');
  // No callbackURL: the emulator accepts the recipe's loopback redirect_uri.
  const bitbucket = await startBitbucketEmulator({ autoApprove: 'ada-lovelace' });
  const port = await new Promise((resolve) => {
    const probe = require('node:net').createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  // An absolute callbackURL, as a deployed app has one.
  const app = await start(port, { ...bitbucket.strategyOptions, callbackURL: `http://127.0.0.1:${port}/auth/bitbucket/callback` });
  try {
    const get = browser();
    const base = `http://127.0.0.1:${port}`;
    const login = await get(`${base}/login`);
    if (login.status !== 200 || !login.body.includes('/auth/bitbucket')) throw new Error(`GET /login answered ${login.status}`);
    let url = `${base}/auth/bitbucket`;
    const hops = [];
    for (let hop = 0; hop < 6; hop += 1) {
      const page = await get(url);
      hops.push(`${page.status} ${url.replace(/\?.*/, '')}`);
      if (!page.location) {
        const user = JSON.parse(page.body);
        if (user.name !== 'Ada Lovelace' || user.email !== 'ada@example.com') throw new Error(`unexpected profile ${page.body}`);
        if (!url.endsWith('/profile')) throw new Error(`ended at ${url}`);
        return hops;
      }
      url = new URL(page.location, url).href;
    }
    throw new Error(`too many redirects: ${hops.join(' → ')}`);
  } finally {
    await app.close();
    await bitbucket.close();
  }
}

async function main() {
  const only = process.argv.slice(2);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-recipes-'));
  let failures = 0;
  try {
    const tarball = path.join(work, sh('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], ROOT).trim().split('\n').pop());
    const compilers = path.join(work, 'compilers');
    fs.mkdirSync(compilers);
    fs.writeFileSync(path.join(compilers, 'package.json'), JSON.stringify({ name: 'compilers', private: true }));
    const aliases = Object.entries(COMPILERS).map(([version, spec]) => [version, `typescript-${version.replace('.', '')}`, spec]);
    sh('npm', ['install', '--no-audit', '--no-fund', '--silent', ...aliases.map(([, alias, spec]) => `${alias}@npm:${spec}`)], compilers);
    const tsc = aliases.map(([version, alias]) => [version, path.join(compilers, 'node_modules', alias, 'bin', 'tsc')]);
    for (const recipe of fs.readdirSync(path.join(ROOT, 'recipes'), { withFileTypes: true })) {
      if (!recipe.isDirectory() || (only.length && !only.includes(recipe.name))) continue;
      const dir = path.join(work, recipe.name);
      fs.cpSync(path.join(ROOT, 'recipes', recipe.name), dir, { recursive: true });
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      manifest.dependencies[NAME] = `file:${tarball}`;
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
      try {
        sh('npm', ['install', '--no-audit', '--no-fund', '--silent'], dir);
        let checked = '';
        if (fs.existsSync(path.join(dir, 'tsconfig.json'))) {
          for (const [version, bin] of tsc) {
            try {
              sh(process.execPath, [bin, '-p', '.', '--noEmit'], dir);
            } catch (error) {
              error.message = `TypeScript ${version}: ${error.message}`;
              throw error;
            }
          }
          checked = ` (type-checked with TypeScript ${tsc.map(([version]) => version).join(' and ')})`;
          sh(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir);
        }
        const nested = path.join(dir, 'node_modules', NAME, 'node_modules', '@types', 'express');
        if (fs.existsSync(nested)) throw new Error('a second copy of @types/express was installed under the package');
        const hops = await signIn(dir);
        console.log(`ok   ${recipe.name}${checked}: ${hops.join(' → ')}`);
      } catch (error) {
        failures += 1;
        console.log(`FAIL ${recipe.name}\n${error.stdout || ''}${error.stack || error}`);
      }
    }
  } finally {
    if (process.env.KEEP_RECIPES) console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(failures ? `${failures} recipe(s) failed` : 'all recipes signed in');
  process.exit(failures ? 1 : 0);
}

main();
