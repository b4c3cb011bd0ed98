// Run by memory.test.ts in a process of its own (`node --expose-gc`), on lib/ as JavaScript:
// signs in twice (once with skipUserProfile) and refreshes against the emulator the test
// started, keeping each secret only as bytes, then collects garbage and writes a heap
// snapshot while the strategy's connections are still pooled. The test then searches the
// snapshot for every secret.
const http = require('node:http');
const v8 = require('node:v8');
const { strategyOptions, callbackURL, snapshot, library } = JSON.parse(process.env.MEMORY_TEST);
const { Strategy } = require(library);
/** The secrets the logins saw, as bytes: a Buffer's contents are not a string on the heap. */
const seen = [];
const keep = (value) => value && seen.push(Buffer.from(value));

function run(strategy, req) {
  return new Promise((resolve) => {
    const login = Object.create(strategy);
    for (const action of ['success', 'fail', 'error', 'redirect', 'pass']) login[action] = (...args) => resolve({ action, args });
    login.authenticate(req, {});
  });
}

const request = (query, session) => ({ query, session, headers: { host: 'app.example.com' }, url: '/cb', method: 'GET', connection: { encrypted: true } });

/** The browser's part: the emulator approves at once and redirects with a code. */
function follow(url) {
  return new Promise((resolve, reject) => {
    // A connection of its own, closed after: a kept-alive socket's parser would hold the last answer.
    http.get(url, { agent: false }, (res) => {
      res.resume();
      resolve(new URL(res.headers.location));
    }).on('error', reject);
  });
}

async function login(extra) {
  const strategy = new Strategy({ ...strategyOptions, callbackURL, ...extra }, (accessToken, refreshToken, _profile, done) => {
    keep(accessToken);
    keep(refreshToken);
    done(null, { id: 'signed-in' });
  });
  const session = {};
  const redirect = await run(strategy, request({}, session));
  keep(Object.values(session)[0].state.code_verifier);
  const back = await follow(redirect.args[0]);
  keep(back.searchParams.get('code'));
  const outcome = await run(strategy, request({ code: back.searchParams.get('code'), state: back.searchParams.get('state') }, session));
  if (outcome.action !== 'success') throw new Error(`login: ${outcome.action} ${outcome.args[0]}`);
  return strategy;
}

(async () => {
  await login({ skipUserProfile: true });
  const strategy = await login({});
  await strategy.refresh(seen[seen.length - 1].toString()).then((refreshed) => {
    keep(refreshed.accessToken);
    keep(refreshed.refreshToken);
  });
  // The strategy stays open, its connections pooled: what a pooled socket keeps is searched too.
  await new Promise((resolve) => setTimeout(resolve, 50));
  global.gc();
  v8.writeHeapSnapshot(snapshot);
  strategy.close();
  process.stdout.write(JSON.stringify(seen.map((bytes) => bytes.toString('base64'))));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
