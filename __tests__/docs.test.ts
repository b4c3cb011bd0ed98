/**
 * The docs' code runs as written. Every ```ts block of README.md and docs/*.md that constructs
 * a strategy (`new BitbucketStrategy(`, `new BitbucketDataCenterStrategy(` or `new Strategy(`)
 * is loaded on its own, with `passport-bitbucket-auth` pointed at the emulators, and each
 * strategy it builds signs a user in: the verify function must produce a user with that
 * user's real id. Exports the test knows get exercised too:
 *
 * - `use…()` with no parameters (e.g. `useBitbucketEmulator`): called first, as a test's
 *   setup would; what it returns is closed afterwards. A block with its own emulator keeps it.
 * - `freshAccessToken(userId)`, `renew(userId)`: called twice after the sign-in, under
 *   rotation with no grace period, so each must have stored the new refresh token.
 * - `accounts` (docs/migrating.md): an old account is found by username once and gets the id.
 *
 * The README's Usage app runs in readme.test.ts; its Data Center diff runs here. A block that
 * starts a server (`.listen(`) is not loaded in-process: give it a test of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Passport } from 'passport';
import ts from 'typescript';
import * as lib from '../lib';
import {
  DEMO_USERS,
  startBitbucketDataCenterEmulator,
  startBitbucketEmulator,
  type BitbucketDataCenterEmulator,
  type BitbucketEmulator,
} from '../lib/testing';
import { Browser, consentForm } from './helpers/demo';
import { blocksOf, dataCenterApp, ROOT, runApp, type Block } from './readme/blocks';
import { expectType, fakeRequest, run, type Outcome } from './helpers/passport';
import { freePort } from './helpers/server';

// The bin, as the package ships it (passport-bitbucket-auth/testing is the source here).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run: emulatorCommand } = require('../bin/passport-bitbucket-auth.js') as {
  run: (args: string[], print: (line: string) => void) => Promise<{ close(): Promise<void> }>;
};

const ADA = '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}';
const GRACE = '{3d9f1a52-8c6e-4b07-a1d4-5e2f7c8b9a60}';
const JDOE = '101';

type AnyStrategy = lib.BitbucketStrategy | lib.BitbucketDataCenterStrategy;

const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const runnable = documents
  .flatMap((file) => blocksOf(file))
  .filter((b) => /new (Bitbucket(DataCenter)?)?Strategy\(/.test(b.code) && !b.code.includes('.listen('));

const isLocal = (url: unknown): boolean => typeof url === 'string' && /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url);

/** Where the test sends a strategy: one of its emulators, or the block's own. */
interface Recorded {
  strategy: AnyStrategy;
  emulator: BitbucketEmulator | BitbucketDataCenterEmulator | undefined;
  user: string;
}

describe('the docs\' code blocks, run against the emulators', () => {
  let cloud: BitbucketEmulator;
  let dc: BitbucketDataCenterEmulator;
  beforeAll(async () => {
    // Ada is in the README's 'acme' workspace too. Rotation with no grace period: a refresh
    // token used twice fails, so a block must store the new one.
    const users = DEMO_USERS.map((u) => (u.username === 'ada-lovelace' ? { ...u, workspaces: [...(u.workspaces ?? []), { slug: 'acme', permission: 'member' as const }] } : u));
    cloud = await startBitbucketEmulator({ users, callbackURL: 'http://127.0.0.1/', accessTokenLifetimeSec: 30, refreshGraceMs: 0 });
    dc = await startBitbucketDataCenterEmulator({ callbackURL: 'http://127.0.0.1/' });
  });
  afterAll(async () => {
    await cloud?.close();
    await dc?.close();
  });

  /** The package as a block imports it: the strategies go to the emulators, and are recorded. */
  function emulatedPackage(recorded: Recorded[]): typeof lib {
    const Cloud = lib.BitbucketStrategy as unknown as new (options: Record<string, unknown>, verify: unknown) => lib.BitbucketStrategy;
    const DataCenter = lib.BitbucketDataCenterStrategy as unknown as new (options: Record<string, unknown>, verify: unknown) => lib.BitbucketDataCenterStrategy;
    class BitbucketStrategy extends Cloud {
      constructor(options: Record<string, unknown>, verify: unknown) {
        const own = isLocal(options['authorizationURL']);
        super(own ? options : { ...options, ...cloud.strategyOptions }, verify);
        recorded.push({ strategy: this, emulator: own ? undefined : cloud, user: 'ada-lovelace' });
      }
    }
    class BitbucketDataCenterStrategy extends DataCenter {
      constructor(options: Record<string, unknown>, verify: unknown) {
        const own = isLocal(options['baseURL']);
        super(own ? options : { ...options, ...dc.strategyOptions }, verify);
        recorded.push({ strategy: this, emulator: own ? undefined : dc, user: 'jdoe' });
      }
    }
    return { ...lib, BitbucketStrategy, Strategy: BitbucketStrategy, BitbucketDataCenterStrategy } as unknown as typeof lib;
  }

  /** Loads a block as a module of its own, with a fresh passport. */
  function load(block: Block, recorded: Recorded[]): { exports: Record<string, unknown>; passport: InstanceType<typeof Passport> } {
    const { outputText } = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
    const passport = new Passport();
    const overrides: Record<string, unknown> = { 'passport-bitbucket-auth': emulatedPackage(recorded), passport };
    const module = { exports: {} as Record<string, unknown> };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const evaluate = new Function('exports', 'require', 'module', outputText) as (e: unknown, r: (id: string) => unknown, m: unknown) => void;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    evaluate(module.exports, (id) => (id in overrides ? overrides[id] : require(id)), module);
    return { exports: module.exports, passport };
  }

  /** The authorize redirect, the emulator's consent (or its autoApprove), the callback. */
  async function signIn({ strategy, emulator }: Recorded, user: string): Promise<Outcome> {
    const session: Record<string, unknown> = {};
    const local = (query: Record<string, string>) => ({ ...fakeRequest(query, session), headers: { host: '127.0.0.1' }, connection: { encrypted: false } });
    const first = expectType(await run(strategy, local({})), 'redirect');
    let callback: URL;
    if (emulator) {
      const authorize = new URL(first.url);
      const params: Record<string, string> = {};
      for (const key of ['redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope']) {
        const value = authorize.searchParams.get(key);
        if (value !== null) params[key] = value;
      }
      callback = new URL(emulator.authorize(user, params));
    } else {
      const answer = await fetch(first.url, { redirect: 'manual' });
      expect(answer.status).toBe(302); // the block's emulator approves by itself
      callback = new URL(answer.headers.get('location')!);
    }
    return run(strategy, local(Object.fromEntries(callback.searchParams)));
  }

  function signedInUser(outcome: Outcome, id: string | RegExp): { id: string } & Record<string, unknown> {
    const user = expectType(outcome, 'success').user as { id: string } & Record<string, unknown>;
    if (typeof id === 'string') expect(user.id).toBe(id);
    else expect(user.id).toMatch(id);
    return user;
  }

  it('finds the blocks that define verify functions', () => {
    const names = runnable.map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['docs/refreshing-tokens.md block 1', 'docs/refreshing-tokens.md block 2', 'docs/migrating.md block 1']));
    expect(names.some((n) => n.startsWith('docs/testing.md'))).toBe(true);
  });

  it.each(runnable.map((b) => [b.name, b] as const))('%s signs a user in with a real id', async (_name, block) => {
    const recorded: Recorded[] = [];
    const closers: Array<{ close(): unknown }> = [];
    try {
      const { exports, passport } = load(block, recorded);
      for (const [name, value] of Object.entries(exports)) {
        if (/^use[A-Z]/.test(name) && typeof value === 'function' && value.length === 0) {
          const made = (await (value as () => unknown)()) as { close?: () => unknown } | undefined;
          if (typeof made?.close === 'function') closers.push(made as { close(): unknown });
        }
      }
      expect(recorded.length).toBeGreaterThan(0);
      // What the block registered with passport is what signs in.
      const registered = Object.values((passport as unknown as { _strategies: Record<string, unknown> })._strategies);
      for (const strategy of registered.filter((s) => s instanceof lib.BitbucketStrategy || s instanceof lib.BitbucketDataCenterStrategy)) {
        expect(recorded.map((r) => r.strategy)).toContain(strategy);
      }
      for (const entry of recorded) {
        const realId = entry.emulator === cloud ? ADA : entry.emulator === dc ? JDOE : /^\{[0-9a-f-]{36}\}$/;
        const user = signedInUser(await signIn(entry, entry.user), realId);

        for (const name of ['freshAccessToken', 'renew']) {
          const refresher = exports[name] as ((id: string) => Promise<string>) | undefined;
          if (!refresher) continue;
          const before = cloud.stats.token;
          const first = await refresher(user.id);
          const second = await refresher(user.id);
          expect([typeof first, typeof second]).toEqual(['string', 'string']);
          expect(second).not.toBe(first);
          expect(cloud.stats.token - before).toBe(2); // two refreshes, the second with the stored new token
        }

        const accounts = exports['accounts'] as Array<{ id: string | undefined; name: string }> | undefined;
        if (accounts) {
          // Ada's account from before the migration is found by username, once, and keeps its name.
          expect(accounts).toEqual([expect.objectContaining({ id: ADA, name: 'Ada' })]);
          expect(user).toMatchObject({ name: 'Ada' });
          // Grace has no username: an account of her own, not a shared one.
          signedInUser(await signIn(entry, GRACE), GRACE);
          expect(accounts.map((a) => a.id)).toEqual([ADA, GRACE]);
          signedInUser(await signIn(entry, 'ada-lovelace'), ADA);
          expect(accounts).toHaveLength(2);
        }
      }
    } finally {
      for (const { strategy } of recorded) strategy.close();
      for (const closer of closers) await closer.close();
    }
  });
});

describe('the README\'s Data Center section', () => {
  let dc: { close(): Promise<void> } | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill();
    await dc?.close();
  });

  it('is the Usage app with a diff that applies, and that app signs in against `emulator --datacenter`, from the variables it prints', async () => {
    const app = dataCenterApp();
    expect(app).toContain('new BitbucketDataCenterStrategy(');
    // What the command does, on any free port; the app gets what it prints and nothing else.
    const printed: string[] = [];
    dc = await emulatorCommand(['emulator', '--datacenter', '--port', '0'], (line) => printed.push(line));
    const env = Object.fromEntries(printed.flatMap((line) => [...line.matchAll(/^export (\w+)=(\S+)$/g)].map((m) => [m[1]!, m[2]!])));
    for (const name of Object.keys(env)) expect(app).toContain(`process.env['${name}']`);
    const port = await freePort();
    const running = runApp(app, 'datacenter-app', port, env);
    child = running.child;
    await running.ready;
    const browser = new Browser();
    const base = `http://localhost:${port}`;
    const consent = await browser.get((await browser.get(`${base}/auth/bitbucket`)).location!);
    const decision = await browser.post(consent.url, consentForm(consent.body, 'jdoe'));
    const hops = await browser.follow(decision.location!);
    const last = hops[hops.length - 1]!;
    expect(last.url).toBe(`${base}/`);
    expect(JSON.parse(last.body)).toEqual({ id: JDOE, name: 'Jane Doe', email: 'jdoe@example.com' });
  }, 30_000);
});
