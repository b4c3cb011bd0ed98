'use strict';
/**
 * The soak: many distinct users sign in at once through the demo app (Express + Passport +
 * this strategy) against the emulator, with random faults, and every login is classified.
 * Used by `npm run soak` (bench/soak.js) and, in a short run, by the test suite.
 */
const http = require('node:http');
const { createApp } = require('../example/app');
const { startBitbucketEmulator } = require('passport-bitbucket-auth/testing');
const { browser } = require('./browser');

/**
 * The faults a response may meet, equally often: a 5xx, a connection reset mid-body, and a
 * stall past the timeout (Bitbucket accepts the request and never answers).
 */
const FAULT_MIX = [{ kind: 'status', status: 500 }, { kind: 'reset' }, { kind: 'stall' }];

/** The responses that may be faulted: every request of a login. */
const FAULTED = ['token', 'user', 'emails'];

/**
 * @param {object} [o]
 * @param {number} [o.users] distinct users, each signing in once (5000)
 * @param {number} [o.concurrency] logins in flight at once (50)
 * @param {number} [o.faultRate] share of each of the token, user and emails responses that is
 *   faulted (0.1): a login meets a fault with about 1 − (1 − faultRate)³ (27% at 0.1)
 * @param {number} [o.timeout] the strategy's timeout in ms (1000)
 * @param {number} [o.seed] seed of the emulator's fault draws (random when absent; reported)
 * @param {(line: string) => void} [o.progress]
 */
async function runSoak(o = {}) {
  const users = o.users ?? 5000;
  const concurrency = o.concurrency ?? 50;
  const faultRate = o.faultRate ?? 0.1;
  const timeout = o.timeout ?? 1000;
  // A login makes three requests to Bitbucket, two of them concurrently: well under this.
  const deadline = timeout * 3 + 5000;
  const progress = o.progress ?? (() => undefined);

  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const callbackURL = `${base}/auth/bitbucket/callback`;
  const accounts = Array.from({ length: users }, (_, i) => ({
    displayName: `Soak User ${i}`,
    username: `soak-${i}`,
    uuid: `{00000000-0000-4000-8000-${String(i).padStart(12, '0')}}`,
    emails: [{ email: `soak-${i}@example.com` }],
  }));
  // Each response draws one fault of the mix, which then applies with probability faultRate: so
  // faultRate of each endpoint's responses are faulted, the three kinds equally often.
  const fault = FAULT_MIX.map((f) => ({ ...f, probability: faultRate }));
  const emulator = await startBitbucketEmulator({
    callbackURL,
    users: accounts,
    faults: Object.fromEntries(FAULTED.map((endpoint) => [endpoint, fault])),
    ...(o.seed === undefined ? {} : { seed: o.seed }),
  });
  server.on('request', createApp({ baseURL: base, ...emulator.strategyOptions, timeout }));

  const gc = typeof global.gc === 'function' ? global.gc : undefined;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const result = { users, concurrency, faultRate, seed: emulator.seed, successes: 0, cleanFailures: 0, hangs: 0, wrongUser: 0, unexpected: 0, failuresByKind: {} };
  const started = Date.now();
  let next = 0;

  async function login(i) {
    const request = browser();
    const get = (url, method = 'GET') => request(url, { method, signal: AbortSignal.timeout(deadline) });
    try {
      const start = await get(`${base}/auth/bitbucket`);
      const state = new URL(start.location).searchParams.get('state');
      const callback = await get(emulator.authorize(`soak-${i}`, { redirect_uri: callbackURL, state }));
      if (callback.status === 302 && callback.location === '/profile') {
        const profile = await get(`${base}/profile`);
        const uuid = /<dd id="uuid"><code>([^<]*)<\/code>/.exec(profile.body)?.[1];
        if (uuid === accounts[i].uuid) {
          result.successes += 1;
        } else {
          result.wrongUser += 1;
        }
        await get(`${base}/logout`, 'POST');
      } else if (callback.status >= 400 && callback.status < 600 && callback.body.includes('<h1>')) {
        result.cleanFailures += 1;
        const kind = failureKind(callback);
        result.failuresByKind[kind] = (result.failuresByKind[kind] ?? 0) + 1;
      } else {
        result.unexpected += 1;
      }
    } catch (error) {
      if (error && (error.name === 'TimeoutError' || error.name === 'AbortError')) result.hangs += 1;
      else result.unexpected += 1;
    }
  }

  async function worker() {
    while (next < users) {
      const i = next++;
      await login(i);
      if ((i + 1) % 1000 === 0) progress(`${i + 1} logins done`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, users) }, worker));
  result.durationMs = Date.now() - started;
  // Requests per login at each faulted endpoint: above 1 where the strategy retried.
  result.requestsPerLogin = Object.fromEntries(FAULTED.map((endpoint) => [endpoint, Math.round((emulator.stats[endpoint] / users) * 1000) / 1000]));
  result.loginsPerSecond = Math.round((users / result.durationMs) * 1000);

  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await emulator.close();
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  result.heapBeforeMB = Math.round((heapBefore / 1048576) * 10) / 10;
  result.heapAfterMB = Math.round((heapAfter / 1048576) * 10) / 10;
  result.gcExposed = Boolean(gc);
  return result;
}

/**
 * What a clean failure page says went wrong: the error's code and whether it came from the
 * token exchange or the profile requests, or the page's status.
 */
function failureKind(page) {
  const code = /data-code="([A-Z_]+)"/.exec(page.body)?.[1];
  if (page.body.includes('id="token-error"')) return 'TokenError (token)';
  if (!code) return `HTTP ${page.status}`;
  return `${code} (${/Exchanging the authorization code|oauth2\/access_token/.test(page.body) ? 'token' : 'profile'})`;
}

module.exports = { runSoak, FAULT_MIX };
