'use strict';
/**
 * npm run build && node bench/burst.js [--logins 1000 --latency 200 --timeouts 10000,2000 --hosts 2]
 *
 * A burst of sign-ins: `--logins` callbacks arrive at the app at once, against a Bitbucket (the
 * emulator, in a process of its own, on loopback) that answers every token, user and emails
 * request after `--latency` ms. The token host and the API host are two, each behind a TCP
 * proxy (bench/counting-proxy.js) that counts the connections the app holds open to it
 * (`--hosts 1`: one host for both, as a Data Center server is). This package runs once per
 * `--timeouts` value (its default `timeout`, 10 s, and a short one, 2 s, with which a request
 * queued for a connection waits longer than its timeout), the two peers once; each in an
 * Express + Passport app of its own process. It prints the share signed in, the logins past
 * their deadline (3 × timeout from the callback's arrival, or no answer at all; for the peers,
 * which have no timeout, 3 × the first value), the most connections open at once per host,
 * the callback times and the targets (≥ 99% signed in, 0 past the deadline, ≤ 128
 * connections per host), PASS or FAIL.
 * Informational: it exits 0 unless the harness itself breaks.
 *
 * Every login holds a few sockets in three processes: raise the open-files limit first if it
 * is low (`ulimit -n 8192`); the script says so when it is.
 */
const { fork, spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { browser } = require('../support/browser');
const { startRemoteEmulator } = require('./remote-emulator');
const { startAppProcess } = require('./throughput');
const { concurrently, median, once, quantile } = require('./runs');

const { values } = parseArgs({
  options: {
    logins: { type: 'string', default: '1000' },
    latency: { type: 'string', default: '200' },
    timeouts: { type: 'string', default: '10000,2000' },
    hosts: { type: 'string', default: '2' },
  },
});
const LOGINS = Number(values.logins);
const LATENCY = Number(values.latency);
const TIMEOUTS = values.timeouts.split(',').map(Number);
const HOSTS = Number(values.hosts) === 1 ? 1 : 2;
const OURS = 'passport-bitbucket-auth';
const SUBJECTS = [
  ...TIMEOUTS.map((timeout) => ({ label: `${OURS}, timeout ${timeout / 1000} s`, name: OURS, timeout })),
  { label: 'passport-bitbucket-oauth2', name: 'passport-bitbucket-oauth2', timeout: TIMEOUTS[0] },
  { label: 'passport-bitbucket-oauth20', name: 'passport-bitbucket-oauth20', timeout: TIMEOUTS[0] },
];
// The client gives up on a callback this long after its deadline: such a login counts as past
// it (a hang), and the run stays bounded.
const GRACE = 5000;
const TARGETS = { signedIn: 0.99, pastDeadline: 0, socketsPerHost: 128 };

/** The soft limit on open files, from the shell (Node has no call for it). */
function openFilesLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/** `count` sign-in redirects through `base`, each with its own browser: the callbacks to fire. */
async function prepare(base, emulator, count) {
  const callbacks = [];
  let n = 0;
  await concurrently(count, 16, async () => {
    n += 1;
    const request = browser();
    const start = await request(`${base}/auth/bitbucket`);
    const location = new URL(start.location);
    const callback = await emulator.authorize('burst', { redirect_uri: location.searchParams.get('redirect_uri'), state: location.searchParams.get('state') });
    callbacks.push({ request, callback });
  });
  return callbacks;
}

/** Fires every callback at once; resolves with each one's outcome and time. */
async function fire(callbacks, giveUp) {
  return Promise.all(
    callbacks.map(async ({ request, callback }) => {
      const t0 = process.hrtime.bigint();
      let outcome;
      try {
        const done = await request(callback, { signal: AbortSignal.timeout(giveUp) });
        const said = done.location ?? done.body.replace(/https?:\/\/127\.0\.0\.1:\d+/g, '').slice(0, 80);
        outcome = done.status === 302 && done.location === '/done' ? 'signed in' : `${done.status} ${said}`;
      } catch (error) {
        outcome = error && error.name === 'TimeoutError' ? 'no answer' : `client error: ${error && error.message}`;
      }
      return { outcome, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    }),
  );
}

async function main() {
  const limit = openFilesLimit();
  const needed = LOGINS * 5 + 1000;
  if (limit < needed) {
    console.error(`The open-files limit is ${limit}; this burst needs about ${needed}. Raise it first, e.g. \`ulimit -n ${Math.max(8192, needed)}\`, then run again.`);
    process.exitCode = 1;
    return;
  }
  console.log(`Burst: ${LOGINS} callbacks at once · Bitbucket (${HOSTS === 2 ? 'token and API hosts' : 'one host'}) answers every token, user and emails request after ${LATENCY} ms · deadline 3 × timeout from the callback · Node ${process.version}`);
  const emulator = await startRemoteEmulator({
    users: [{ displayName: 'Burst User', username: 'burst', emails: [{ email: 'burst@example.com' }] }],
    latency: { token: LATENCY, user: LATENCY, emails: LATENCY },
    callbackURL: 'http://127.0.0.1:',
  });
  const proxies = fork(path.join(__dirname, 'counting-proxy.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const results = {};
  try {
    proxies.send({ type: 'start', targetPort: Number(new URL(emulator.url).port), hosts: HOSTS });
    const [sitePort, apiPort = sitePort] = (await once(proxies, 'started')).ports;
    const endpoints = {
      ...emulator.endpoints,
      tokenURL: `http://127.0.0.1:${sitePort}/site/oauth2/access_token`,
      userProfileURL: `http://127.0.0.1:${apiPort}/2.0/user`,
      userEmailsURL: `http://127.0.0.1:${apiPort}/2.0/user/emails`,
    };
    for (const { label, name, timeout } of SUBJECTS) {
      const app = await startAppProcess(name, endpoints, { ours: { timeout }, backlog: 4096 });
      try {
        const callbacks = await prepare(app.base, emulator, LOGINS);
        proxies.send({ type: 'reset' });
        await once(proxies, 'reset-done');
        const t0 = Date.now();
        const logins = await fire(callbacks, 3 * timeout + GRACE);
        const seconds = (Date.now() - t0) / 1000;
        proxies.send({ type: 'stats' });
        const { hosts } = await once(proxies, 'stats');
        results[label] = { logins, seconds, hosts };
      } finally {
        app.child.kill();
      }
    }
  } finally {
    proxies.kill();
    emulator.close();
  }

  const pad = (text, n) => String(text).padEnd(n);
  console.log(`\n${pad('', 42)}${pad('signed in', 16)}${pad('past deadline', 18)}${pad('max sockets (token / API host)', 32)}${pad('callback p50 / p99 / max', 28)}whole burst`);
  const targets = [];
  for (const { label, timeout } of SUBJECTS) {
    const { logins, seconds, hosts } = results[label];
    const deadline = 3 * timeout;
    const signedIn = logins.filter((l) => l.outcome === 'signed in').length;
    const past = logins.filter((l) => l.ms > deadline || l.outcome === 'no answer').length;
    const maxSockets = Math.max(...hosts.map((h) => h.max));
    const sockets = hosts.map((h) => h.max).join(' / ');
    const times = logins.map((l) => l.ms);
    const share = signedIn / logins.length;
    console.log(
      `${pad(label, 42)}${pad(`${signedIn} (${(share * 100).toFixed(1)}%)`, 16)}${pad(`${past} (${deadline / 1000} s)`, 18)}${pad(sockets, 32)}` +
        `${pad(`${(median(times) / 1000).toFixed(2)} / ${(quantile(times, 0.99) / 1000).toFixed(2)} / ${(Math.max(...times) / 1000).toFixed(2)} s`, 28)}${seconds.toFixed(1)} s`,
    );
    const failures = {};
    for (const l of logins) if (l.outcome !== 'signed in') failures[l.outcome] = (failures[l.outcome] ?? 0) + 1;
    for (const [outcome, n] of Object.entries(failures).sort((a, b) => b[1] - a[1])) console.log(`    ${String(n).padStart(5)}  ${outcome}`);
    targets.push(
      [`${label}: ≥ ${TARGETS.signedIn * 100}% signed in`, share >= TARGETS.signedIn, `${(share * 100).toFixed(1)}%`],
      [`${label}: ${TARGETS.pastDeadline} logins past the deadline`, past <= TARGETS.pastDeadline, String(past)],
      [`${label}: ≤ ${TARGETS.socketsPerHost} sockets per host`, maxSockets <= TARGETS.socketsPerHost, String(maxSockets)],
    );
  }
  console.log('\nTargets (this package\'s; the peers measured the same way, for comparison)');
  for (const [label, ok, figure] of targets) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${pad(label, 72)}${figure}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
