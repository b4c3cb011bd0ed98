'use strict';
/**
 * Each package's own path, without Express or sessions: the code exchange and the profile
 * requests (`getOAuthAccessToken`, then `userProfile`), 32 logins at a time, in this process,
 * against bench/fixture-server.js in a process of its own. Reports this process's CPU time
 * per login, the median over interleaved rounds: the package's code plus the node:http and
 * socket work of the requests it makes.
 */
const { fork } = require('node:child_process');
const path = require('node:path');
const { createStrategy } = require('./apps');
const { concurrently, median } = require('./runs');

function strategyFor(name, base) {
  return createStrategy(
    name,
    {
      clientID: 'bench',
      clientSecret: 'bench-secret',
      callbackURL: 'http://127.0.0.1/callback',
      authorizationURL: `${base}/site/oauth2/authorize`,
      tokenURL: `${base}/site/oauth2/access_token`,
      userProfileURL: `${base}/2.0/user`,
      userEmailsURL: `${base}/2.0/user/emails`,
    },
    () => undefined,
  );
}

function login(strategy) {
  return new Promise((resolve, reject) => {
    strategy._oauth2.getOAuthAccessToken('code', { grant_type: 'authorization_code', redirect_uri: 'http://127.0.0.1/callback' }, (error, accessToken) => {
      if (error) return reject(error);
      strategy.userProfile(accessToken, (failure, profile) => (failure ? reject(failure) : resolve(profile)));
    });
  });
}

async function cpuPerLogin(strategy, logins, concurrency) {
  const before = process.cpuUsage();
  await concurrently(logins, concurrency, () => login(strategy));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / logins;
}

/** @returns {Promise<Record<string, number>>} median µs of CPU per login, by name */
async function strategyPath(names, { logins = 6000, concurrency = 32, rounds = 12 } = {}) {
  const server = fork(path.join(__dirname, 'fixture-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { base } = await new Promise((resolve) => server.once('message', resolve));
    const strategies = Object.fromEntries(names.map((n) => [n, strategyFor(n, base)]));
    for (const name of names) await cpuPerLogin(strategies[name], 500, concurrency); // warm up (JIT)
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round += 1) {
      for (let k = 0; k < names.length; k += 1) {
        const name = names[(round + k) % names.length];
        samples[name].push(await cpuPerLogin(strategies[name], Math.ceil(logins / rounds), concurrency));
      }
    }
    return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
  } finally {
    server.kill();
  }
}

module.exports = { strategyPath };
