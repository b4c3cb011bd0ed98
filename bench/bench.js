'use strict';
/**
 * npm run bench [-- --rounds 24 --logins 6000 --concurrency 32 --latency 25 --latency-rounds 30]
 *
 * Runs this strategy, the two packages users would pick instead (passport-bitbucket-oauth2,
 * "the incumbent", and passport-bitbucket-oauth20) and a hand-written reference
 * (bench/reference.js) inside real Express apps against the local Bitbucket emulator, and
 * prints, first:
 * - the app's CPU time per login (µs, user + system, read in the app process around a batch of
 *   logins), in paired, interleaved rounds: median, IQR and min–max per contender, and the
 *   paired ratios: this package with its defaults and at equal work (`{ pkce: false,
 *   skipEmails: true }`: the incumbent's requests; `{ pkce: false }`: those of
 *   passport-bitbucket-oauth20) against the peers and the reference at the same work. Logins
 *   per second and peak RSS beside it, as information;
 * - the same CPU figure for the strategy path alone (bench/strategy-path.js: no Express, no
 *   session);
 * then the callback leg's median latency with a fixed latency added to every token and API
 * answer (interleaved, users with 1, 12 and 150 addresses), API requests per login, which
 * profile fields each package fills, and this project's targets, each PASS or FAIL with its
 * figure. Informational: it exits 0 unless the harness itself breaks.
 */
const { parseArgs } = require('node:util');
const { startRemoteEmulator } = require('./remote-emulator');
const { PACKAGES, startApp, login } = require('./apps');
const { throughput } = require('./throughput');
const { strategyPath } = require('./strategy-path');
const { median } = require('./runs');
const { CONTENDERS, OURS, printCpu } = require('./cpu-report');

const NAMES = Object.keys(PACKAGES);
const { values: args } = parseArgs({
  options: {
    latency: { type: 'string', default: '25' },
    'latency-rounds': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '24' },
    logins: { type: 'string', default: '6000' },
    concurrency: { type: 'string', default: '32' },
    only: { type: 'string' }, // 'cpu', 'path' or 'latency'
  },
});
const LATENCY = Number(args.latency);
const ROUNDS = Math.max(30, Number(args['latency-rounds']));
// CPU rounds: at least 16, each contender once per round, the order rotating.
const CPU_ROUNDS = Math.max(16, Number(args.rounds));
const LOGINS = Number(args.logins);
const CONCURRENCY = Number(args.concurrency);
const EMAIL_COUNTS = [1, 12, 150];
const ONLY = args.only;

const pad = (text, n) => String(text).padEnd(n);
const fixed = (x, d = 2) => x.toFixed(d);

function usersWith(count) {
  return [
    {
      displayName: `User with ${count}`,
      username: `u${count}`,
      uuid: `{00000000-0000-4000-8000-${String(count).padStart(12, '0')}}`,
      accountId: `acct-${count}`,
      // The primary address is the last one, and every third address is unconfirmed.
      emails: Array.from({ length: count }, (_, i) => ({
        email: `u${count}.${i}@example.com`,
        primary: i === count - 1,
        confirmed: i === count - 1 || i % 3 !== 1,
      })),
    },
  ];
}

async function latencyFor(count) {
  const emulator = await startRemoteEmulator({ users: usersWith(count) });
  await emulator.setLatency(LATENCY, ['token', 'user', 'emails']);
  const apps = [];
  for (const name of NAMES) apps.push(await startApp(name, emulator));
  const samples = Object.fromEntries(NAMES.map((n) => [n, []]));
  const roundTrips = Object.fromEntries(NAMES.map((n) => [n, []]));
  const requests = Object.fromEntries(NAMES.map((n) => [n, 0]));
  // Warm-up: one login each, untimed.
  for (const app of apps) await login(app, emulator, `u${count}`);
  for (let round = 0; round < ROUNDS; round += 1) {
    // Interleave, rotating the order every round.
    for (let k = 0; k < apps.length; k += 1) {
      const app = apps[(round + k) % apps.length];
      const before = await emulator.stats();
      const timing = await login(app, emulator, `u${count}`);
      samples[app.name].push(timing.leg);
      roundTrips[app.name].push(timing.roundTrip);
      const after = await emulator.stats();
      requests[app.name] += after.user + after.emails - before.user - before.emails;
    }
  }
  const profiles = Object.fromEntries(apps.map((a) => [a.name, a.profiles[a.profiles.length - 1]]));
  for (const app of apps) await app.close();
  emulator.close();
  return {
    count,
    medians: Object.fromEntries(NAMES.map((n) => [n, median(samples[n])])),
    roundTrips: Object.fromEntries(NAMES.map((n) => [n, median(roundTrips[n])])),
    requestsPerLogin: Object.fromEntries(NAMES.map((n) => [n, requests[n] / ROUNDS])),
    profiles,
  };
}

function fieldsOf(profile, count) {
  const emails = Array.isArray(profile.emails) ? profile.emails : [];
  const confirmedTotal = usersWith(count)[0].emails.filter((e) => e.confirmed).length;
  return {
    id: profile.id ? 'uuid' : '—',
    accountId: profile.accountId ? 'yes' : '—',
    username: profile.username ? 'yes' : '—',
    nickname: profile.nickname ? 'yes' : '—',
    displayName: profile.displayName ? 'yes' : '—',
    profileUrl: profile.profileUrl ? 'yes' : '—',
    photos: Array.isArray(profile.photos) && profile.photos.length ? 'avatar' : '—',
    emails: emails.length
      ? `${emails.length} of ${count} (${confirmedTotal} confirmed)${emails.some((e) => e.verified === false) ? ', unconfirmed included' : ''}${emails[0] && emails[0].primary ? ', primary first' : ''}`
      : '—',
  };
}

async function appCpu() {
  const load = await throughput(CONTENDERS, { logins: LOGINS, concurrency: CONCURRENCY, rounds: CPU_ROUNDS });
  const samples = Object.fromEntries(CONTENDERS.map((n) => [n, load[n].cpuMicros]));
  const title =
    `App CPU per login (µs, user + system in the app process; ${CPU_ROUNDS} interleaved rounds of ${Math.ceil(LOGINS / CPU_ROUNDS)} full logins each, ${CONCURRENCY} at a time, no added latency)\n` +
    (load[OURS].pinned
      ? '(each app in a process of its own on CPU 0; the emulator and the load on the other CPUs)'
      : '(each app in a process of its own; the emulator in another; the load from this one; no taskset, so not pinned)');
  const targets = printCpu(title, samples, {
    level: 'app',
    extra: { header: 'logins/s (info)   peak RSS', cell: (n) => `${pad(load[n].loginsPerSecond.toFixed(0), 18)}${load[n].peakRssMB} MB` },
  });
  return { load, targets };
}

async function pathCpu() {
  const samples = await strategyPath(CONTENDERS, { rounds: CPU_ROUNDS });
  return printCpu(
    `The strategy path alone (µs of CPU per login in one process: sign-in redirect, code exchange, profile requests, verify; no Express or session; ${CPU_ROUNDS} interleaved rounds)`,
    samples,
    { level: 'strategy path', app: false },
  );
}

async function main() {
  console.log(`Bitbucket sign-in benchmark · Node ${process.version}\n`);
  if (ONLY === 'cpu') return void (await appCpu());
  if (ONLY === 'path') return void (await pathCpu());

  const targets = [];
  if (!ONLY) {
    const { targets: app } = await appCpu();
    targets.push(...app);
    console.log('');
    targets.push(...(await pathCpu()));
    console.log('');
  }

  console.log(`Latency: ${LATENCY} ms added to every token and API answer · ${ROUNDS} rounds, interleaved · floor ${2 * LATENCY} ms (the token, then the profile requests)`);
  const results = [];
  for (const count of EMAIL_COUNTS) results.push(await latencyFor(count));
  if (ONLY === 'latency') {
    for (const r of results) console.log(r.count, NAMES.map((n) => `${n} ${fixed(r.medians[n], 2)} ms (round trip ${fixed(r.roundTrips[n], 2)})`).join('  '));
    return;
  }

  console.log('Callback leg, code → token → profile → verify, measured in the app: median ms (× floor) — API requests per login');
  console.log(`${pad('emails', 8)}${NAMES.map((n) => pad(n, 36)).join('')}`);
  for (const r of results) {
    const cells = NAMES.map((n) => pad(`${fixed(r.medians[n], 1)} (${fixed(r.medians[n] / (2 * LATENCY))}×) — ${r.requestsPerLogin[n]}`, 36));
    console.log(`${pad(r.count, 8)}${cells.join('')}`);
  }
  console.log('\nThe whole callback request as the browser sees it (… → session saved → redirect): median ms (× floor)');
  for (const r of results) {
    console.log(`${pad(r.count, 8)}${NAMES.map((n) => pad(`${fixed(r.roundTrips[n], 1)} (${fixed(r.roundTrips[n] / (2 * LATENCY))}×)`, 36)).join('')}`);
  }
  console.log('\nThis package\'s latency as a ratio to each peer (lower is faster)');
  for (const r of results) {
    const ratios = NAMES.filter((n) => n !== OURS).map((n) => `${n} ${fixed(r.medians[OURS] / r.medians[n])}×`);
    console.log(`  ${pad(`${r.count} email${r.count === 1 ? '' : 's'}`, 12)}${ratios.join('   ')}`);
  }

  console.log('\nProfile fields filled (user with 12 addresses, 8 of them confirmed)');
  const twelve = results.find((r) => r.count === 12);
  const fields = Object.fromEntries(NAMES.map((n) => [n, fieldsOf(twelve.profiles[n] || {}, 12)]));
  for (const key of Object.keys(fields[OURS])) {
    console.log(`  ${pad(key, 13)}${NAMES.map((n) => pad(fields[n][key], 42)).join('')}`);
  }

  const one = results[0];
  targets.push(
    [`≤ 1.10× the floor with emails fetched (1 address)`, one.medians[OURS] / (2 * LATENCY) <= 1.1, `${fixed(one.medians[OURS] / (2 * LATENCY))}×`],
    [`≤ 0.70× passport-bitbucket-oauth20's latency (1 address)`, one.medians[OURS] / one.medians['passport-bitbucket-oauth20'] <= 0.7, `${fixed(one.medians[OURS] / one.medians['passport-bitbucket-oauth20'])}×`],
    [`one emails request for up to 100 addresses`, results.filter((r) => r.count <= 100).every((r) => r.requestsPerLogin[OURS] === 2), results.map((r) => `${r.count}: ${r.requestsPerLogin[OURS] - 1}`).join(', ')],
  );
  console.log('\nTargets');
  for (const [name, ok, value] of targets) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${pad(name, 78)}${value}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
