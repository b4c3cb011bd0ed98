'use strict';
/**
 * Each contender's own path, without Express or sessions: a whole login through the
 * strategy's public Passport interface, as Passport's middleware drives it (`authenticate` on
 * an `Object.create(strategy)` with `redirect`, `success`, `fail` and `error` attached): the
 * sign-in redirect (state, PKCE), then the callback (code exchange, profile requests, verify).
 * The hand-written reference makes the same requests with node:http alone. 32 logins at a
 * time, in this process, against bench/fixture-server.js in a process of its own. Reports this
 * process's CPU time per login, one sample per interleaved round: the contender's code plus
 * the node:http and socket work of the requests it makes.
 */
const { fork } = require('node:child_process');
const path = require('node:path');
const { REFERENCES, createStrategy, isReference } = require('./apps');
const { answerFor } = require('./fixture-server');
const { signIn } = require('./reference');
const { concurrently } = require('./runs');

const CALLBACK = 'http://127.0.0.1/callback';

function endpointsAt(base) {
  return {
    clientID: 'bench',
    clientSecret: 'bench-secret',
    callbackURL: CALLBACK,
    authorizationURL: `${base}/site/oauth2/authorize`,
    tokenURL: `${base}/site/oauth2/access_token`,
    userProfileURL: `${base}/2.0/user`,
    userEmailsURL: `${base}/2.0/user/emails`,
  };
}

/** One `authenticate` call as Passport makes it; resolves with how it ended. */
function authenticate(strategy, req) {
  return new Promise((resolve, reject) => {
    const login = Object.create(strategy);
    login.redirect = (url) => resolve({ redirect: url });
    login.success = (user) => resolve({ user });
    login.fail = (challenge) => reject(new Error(`login failed: ${JSON.stringify(challenge)}`));
    login.error = reject;
    login.pass = () => reject(new Error('login passed'));
    strategy.authenticate.call(login, req, {});
  });
}

/** A whole login through `strategy`: the sign-in redirect, then the callback with a code. */
async function login(strategy) {
  const session = {};
  const start = await authenticate(strategy, { query: {}, body: {}, session, headers: {}, url: '/auth/bitbucket' });
  const state = new URL(start.redirect).searchParams.get('state');
  const query = { code: 'code', ...(state ? { state } : {}) };
  const done = await authenticate(strategy, { query, body: {}, session, headers: {}, url: '/callback' });
  if (!done.user) throw new Error('no user');
}

/**
 * For `bench/instructions.js --stages`: part of each login answered in this process. `'requests'`: every request answered
 * with the recorded fixture, without node:http (this package's `_oauth2.open`, node-oauth's `_request` replaced); `'exchange'`:
 * the token exchange and the profile answered at once (`getOAuthAccessToken`, `userProfile` replaced). Internals of each
 * package, replaced on a benchmark's own strategy only.
 */
function answerInProcess(strategy, stage) {
  // The fixture server's answer to each URL, found once (a URL parsed per request would be counted as the package's).
  const bodies = new Map();
  const body = (url) => bodies.get(url) ?? bodies.set(url, answerFor(new URL(url).pathname)).get(url);
  const client = strategy._oauth2;
  const replaced = { requests: typeof client.apiGet === 'function' ? 'open' : '_request', exchange: 'getOAuthAccessToken' }[stage];
  if (!replaced || typeof client[replaced] !== 'function') throw new Error(`cannot answer ${stage} in the process`);
  if (replaced === 'getOAuthAccessToken') {
    client.getOAuthAccessToken = (code, params, done) => process.nextTick(done, null, 'access-token', 'refresh-token', { token_type: 'bearer' });
    strategy.userProfile = (accessToken, done) => process.nextTick(done, null, { provider: 'bitbucket', id: '{user}' });
  } else if (replaced === 'open') {
    client.open = (method, url) => ({ send: async () => ({ url, status: 200, headers: {}, body: body(url) }), cancel() {}, usable() { return this; } });
  } else {
    client._request = (method, url, headers, payload, token, done) => process.nextTick(done, null, body(url), { statusCode: 200, headers: {} });
  }
}

function contender(name, base, stage) {
  const endpoints = endpointsAt(base);
  if (isReference(name)) {
    const options = REFERENCES[name];
    return () => signIn(endpoints, 'code', options);
  }
  const strategy = createStrategy(name, { ...endpoints, state: true }, (accessToken, refreshToken, profile, done) => done(null, { id: profile.id }));
  if (stage) answerInProcess(strategy, stage);
  return () => login(strategy);
}

async function cpuPerLogin(run, logins, concurrency) {
  const before = process.cpuUsage();
  await concurrently(logins, concurrency, run);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / logins;
}

/** @returns {Promise<Record<string, number[]>>} µs of CPU per login, one sample per round, by name */
async function strategyPath(names, { logins = 8000, concurrency = 32, rounds = 16 } = {}) {
  const server = fork(path.join(__dirname, 'fixture-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { base } = await new Promise((resolve) => server.once('message', resolve));
    const runs = Object.fromEntries(names.map((n) => [n, contender(n, base)]));
    for (const name of names) await cpuPerLogin(runs[name], 500, concurrency); // warm up (JIT)
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round += 1) {
      for (let k = 0; k < names.length; k += 1) {
        const name = names[(round + k) % names.length];
        samples[name].push(await cpuPerLogin(runs[name], Math.ceil(logins / rounds), concurrency));
      }
    }
    return samples;
  } finally {
    server.kill();
  }
}

module.exports = { contender, strategyPath };
