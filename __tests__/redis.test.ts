import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createClient } from 'redis';
import ts from 'typescript';
import { BitbucketStrategy, type RefreshedTokens } from '../lib';
import { startBitbucketEmulator, type BitbucketEmulator } from '../lib/testing';
import { Browser } from './helpers/demo';
import { expectType, fakeRequest, run } from './helpers/passport';
import { freePort } from './helpers/server';
import { blocksOf } from './readme/blocks';

// The demo's own modules, loaded as an app loads them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createApp } = require('../example/app') as { createApp: (config: Record<string, unknown>) => (req: unknown, res: unknown) => void };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createSessionStore } = require('../example/session-store') as {
  createSessionStore(url: string | undefined): Promise<{ store: unknown; kind: string; close(): Promise<void> }>;
};

const REDIS = spawnSync('sh', ['-c', 'command -v redis-server']).stdout.toString().trim();
// A machine without redis-server skips these tests, loudly. .ci/run installs it and sets
// REQUIRE_REDIS=1 for its main run, so that there a missing redis-server fails instead.
const REQUIRED = process.env['REQUIRE_REDIS'] === '1';
const describeWithRedis = REDIS || REQUIRED ? describe : describe.skip;
if (!REDIS && !REQUIRED) console.warn('redis-server not found: skipping the multi-instance tests (apt-get install redis-server)');

/** Starts a throwaway redis-server on a free loopback port; resolves once it accepts connections. */
async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (!REDIS) throw new Error('redis-server not found: apt-get install redis-server');
  const port = await freePort();
  const child: ChildProcess = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface Instance {
  url: string;
  host: string;
  close(): Promise<void>;
}

/** One demo instance: the same public URL and session secret as its siblings, its own port. */
async function startInstance(name: string, publicURL: string, emulator: BitbucketEmulator, redisUrl: string | undefined, extra: Record<string, unknown> = {}): Promise<Instance> {
  const sessions = await createSessionStore(redisUrl);
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  server.on(
    'request',
    createApp({
      baseURL: publicURL,
      instance: name,
      emulator: true,
      sessionSecret: 'the-same-secret-on-every-instance',
      sessionStore: sessions.store,
      ...emulator.strategyOptions,
      ...extra,
    }),
  );
  return {
    url: `http://127.0.0.1:${address.port}`,
    host: `127.0.0.1:${address.port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sessions.close();
    },
  };
}

describeWithRedis('several instances behind a load balancer', () => {
  const PUBLIC = 'http://app.example.test';
  const CALLBACK = `${PUBLIC}/auth/bitbucket/callback`;
  let redis: { url: string; stop(): Promise<void> };
  let emulator: BitbucketEmulator;
  const users = Array.from({ length: 60 }, (_, i) => ({
    displayName: `Instance User ${i}`,
    username: `iu-${i}`,
    uuid: `{00000000-0000-4000-9000-${String(i).padStart(12, '0')}}`,
  }));

  beforeAll(async () => {
    redis = await startRedis();
    emulator = await startBitbucketEmulator({ callbackURL: CALLBACK, users });
  });
  afterAll(async () => {
    await emulator?.close();
    await redis?.stop();
  });

  /** Starts on A, finishes the callback on B, then reads the profile from A again. */
  async function crossSignIn(a: Instance, b: Instance, user: (typeof users)[number]): Promise<{ callback: number; uuid: string | undefined; page: string }> {
    const browser = new Browser([a.host, b.host]);
    const start = await browser.get(`${a.url}/auth/bitbucket`);
    const authorize = new URL(start.location!);
    const state = authorize.searchParams.get('state')!;
    const params: Record<string, string> = { redirect_uri: CALLBACK, state };
    for (const key of ['code_challenge', 'code_challenge_method']) {
      const value = authorize.searchParams.get(key);
      if (value) params[key] = value;
    }
    // The load balancer sends the browser's return from Bitbucket to the other instance.
    const callback = new URL(emulator.authorize(user.username, params));
    const landed = await browser.get(`${b.url}${callback.pathname}${callback.search}`);
    if (landed.status !== 302) return { callback: landed.status, uuid: undefined, page: landed.body };
    const profile = await browser.get(`${a.url}/profile`);
    return { callback: landed.status, uuid: /<dd id="uuid"><code>([^<]*)</.exec(profile.body)?.[1], page: profile.body };
  }

  it('completes on instance B a sign-in begun on instance A, for many users at once', async () => {
    const a = await startInstance('A', PUBLIC, emulator, redis.url);
    const b = await startInstance('B', PUBLIC, emulator, redis.url);
    try {
      const results = await Promise.all(users.map((user) => crossSignIn(a, b, user)));
      results.forEach((result, i) => {
        expect(result.callback).toBe(302);
        expect(result.uuid).toBe(users[i]!.uuid); // each user gets their own profile
      });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('without a shared store, the callback on B is a clean failure, not a crash', async () => {
    const a = await startInstance('A', PUBLIC, emulator, undefined);
    const b = await startInstance('B', PUBLIC, emulator, undefined);
    try {
      const before = emulator.stats.token;
      const result = await crossSignIn(a, b, users[0]!);
      expect(result.callback).toBe(403);
      expect(result.page).toContain('id="forged-state"');
      expect(emulator.stats.token).toBe(before); // refused before any token request
      // Instance B is still serving.
      expect((await new Browser().get(`${b.url}/`)).status).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });

  describe('refreshing one user\'s tokens from two instances at once (docs/refreshing-tokens.md)', () => {
    type Tokens = { accessToken: string; refreshToken: string; expiresAt: number };
    type FreshTokens = (redis: ReturnType<typeof createClient>, strategy: { refresh(token: string): Promise<RefreshedTokens> }, userId: string) => Promise<Tokens>;

    /** The guide's block, as written. */
    function freshTokensFromTheGuide(): FreshTokens {
      const block = blocksOf('docs/refreshing-tokens.md').find((b) => b.code.includes('export async function freshTokens('));
      expect(block?.code).toContain("condition: 'NX'");
      const { outputText } = ts.transpileModule(block!.code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
      const module = { exports: {} as { freshTokens?: FreshTokens } };
      // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-require-imports
      (new Function('exports', 'require', 'module', outputText) as (e: unknown, r: NodeJS.Require, m: unknown) => void)(module.exports, require, module);
      return module.exports.freshTokens!;
    }

    it('sends one refresh to Bitbucket, and both instances end with the new tokens', async () => {
      const freshTokens = freshTokensFromTheGuide();
      const clients = [createClient({ url: redis.url }), createClient({ url: redis.url })] as const;
      await Promise.all(clients.map((c) => c.connect()));
      // Two instances of the app: each its own strategy and its own Redis connection. Signing
      // in stores the tokens in Redis, already expired, so that the next use must refresh.
      const [a, b] = clients.map(
        (client) =>
          new BitbucketStrategy({ ...emulator.strategyOptions, callbackURL: CALLBACK }, async (accessToken, refreshToken, profile) => {
            await client.set(`tokens:${profile.id}`, JSON.stringify({ accessToken, refreshToken, expiresAt: 0 }));
            return { id: profile.id };
          }),
      ) as [BitbucketStrategy, BitbucketStrategy];
      try {
        const session: Record<string, unknown> = {};
        const start = expectType(await run(a, fakeRequest({}, session)), 'redirect');
        const authorize = new URL(start.url);
        const params: Record<string, string> = { redirect_uri: CALLBACK, state: authorize.searchParams.get('state')! };
        for (const key of ['code_challenge', 'code_challenge_method']) {
          const value = authorize.searchParams.get(key);
          if (value) params[key] = value;
        }
        const callback = new URL(emulator.authorize(users[0]!.username, params));
        const { user } = expectType(await run(a, fakeRequest(Object.fromEntries(callback.searchParams), session)), 'success');
        const id = (user as { id: string }).id;
        expect(id).toBe(users[0]!.uuid);
        const signedIn = JSON.parse((await clients[0].get(`tokens:${id}`))!) as Tokens;

        // A slow token endpoint, so that the two requests surely overlap.
        emulator.setLatency(150, 'token');
        const before = emulator.stats.token;
        const [fromA, fromB] = await Promise.all([freshTokens(clients[0], a, id), freshTokens(clients[1], b, id)]);
        expect(emulator.stats.token - before).toBe(1);
        expect(fromA.refreshToken).not.toBe(signedIn.refreshToken);
        expect(fromB).toEqual(fromA);
        expect(JSON.parse((await clients[1].get(`tokens:${id}`))!)).toEqual(fromA);
        expect(await clients[0].get(`tokens:${id}:refreshing`)).toBeNull(); // the lock is released
      } finally {
        emulator.setLatency(0, 'token');
        a.close();
        b.close();
        await Promise.all(clients.map((c) => c.quit()));
      }
    });
  });
});
