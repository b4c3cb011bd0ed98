'use strict';
/**
 * npm run bench:tls [-- --rtt 20 --rounds 16 --batch 5 --quiet-rounds 3 --quiet-seconds 7]
 *
 * Cold and warm logins over real TLS 1.3 with a real round-trip delay. The emulator sits
 * behind two TLS endpoints, as bitbucket.org (token) and api.bitbucket.org (API) are two
 * hosts, and each behind a TCP proxy that delays every chunk by half the round trip each way.
 * This package (with its defaults and at equal work), the two peers and the hand-written
 * reference each run in an Express app of their own (a process each, trusting the test
 * certificate). The script prints, first, the app's CPU per warm login (µs, user + system in
 * the app process around a batch of logins; paired, interleaved rounds; median, IQR, min–max
 * and the paired ratios, with the CPU targets), then for each contender the callback leg
 * (callback arrival → verify, measured in the app) of the first login after start, of warm
 * logins and of logins after a quiet spell longer than Node's default 5 s keep-alive, in ms
 * and round trips, with the TCP+TLS handshakes per login; and the latency targets against
 * passport-bitbucket-oauth2 (first ≤ 0.74×, after a quiet spell ≤ 0.37×, warm ≤ 1.03×), PASS
 * or FAIL. Informational: it exits 0 unless the harness itself breaks. Needs openssl (a
 * throwaway self-signed certificate is made for 127.0.0.1 at every run).
 */
const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { parseArgs } = require('node:util');
const { browser } = require('../support/browser');
const { startRemoteEmulator } = require('./remote-emulator');
const { median, once } = require('./runs');
const { CONTENDERS, INCUMBENT, OURS, printCpu } = require('./cpu-report');

const { values } = parseArgs({
  options: {
    rtt: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '16' },
    batch: { type: 'string', default: '5' },
    'quiet-rounds': { type: 'string', default: '3' },
    'quiet-seconds': { type: 'string', default: '7' },
  },
});
const RTT = Number(values.rtt);
// Warm logins: at least 16 rounds, each contender a batch of logins per round, the order rotating.
const ROUNDS = Math.max(16, Number(values.rounds));
const BATCH = Number(values.batch);
const QUIET_ROUNDS = Number(values['quiet-rounds']);
const QUIET_MS = Number(values['quiet-seconds']) * 1000;
const NAMES = CONTENDERS;

/** A throwaway certificate for 127.0.0.1, made by openssl in a temporary folder. */
function certificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), certPath: cert };
}

/** Listens on a free loopback port; resolves with the port. */
function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

/** TLS in front of the emulator's plain HTTP port. */
async function tlsFront(credentials, targetPort) {
  const server = tls.createServer({ key: credentials.key, cert: credentials.cert, minVersion: 'TLSv1.3' }, (socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  return { server, port: await listen(server) };
}

/** A TCP proxy that delays every chunk by half the round trip in each direction; counts connections. */
async function delayingProxy(targetPort, oneWayMs) {
  const stats = { connections: 0 };
  const sockets = new Set();
  const delay = (from, to) => {
    from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), oneWayMs));
    from.on('end', () => setTimeout(() => to.destroyed || to.end(), oneWayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWayMs));
  };
  const server = net.createServer((client) => {
    stats.connections += 1;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    delay(client, upstream);
    delay(upstream, client);
  });
  const port = await listen(server);
  return { port, stats, close: () => { for (const s of sockets) s.destroy(); server.close(); } };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-tls-'));
  const credentials = certificate(dir);
  const emulator = await startRemoteEmulator({
    users: [{ displayName: 'Bench User', username: 'bench', emails: [{ email: 'bench@example.com' }] }],
    autoApprove: 'bench',
    callbackURL: 'http://127.0.0.1:',
    // Bitbucket announces no idle limit; here its edge keeps idle connections through the
    // quiet spells, so that what is measured is each client's own pool.
    keepAliveTimeout: 10 * 60_000,
  });
  const emulatorPort = Number(new URL(emulator.url).port);
  const fronts = [await tlsFront(credentials, emulatorPort), await tlsFront(credentials, emulatorPort)];
  const site = await delayingProxy(fronts[0].port, RTT / 2);
  const api = await delayingProxy(fronts[1].port, RTT / 2);
  const endpoints = {
    ...emulator.endpoints,
    tokenURL: `https://127.0.0.1:${site.port}/site/oauth2/access_token`,
    userProfileURL: `https://127.0.0.1:${api.port}/2.0/user`,
    userEmailsURL: `https://127.0.0.1:${api.port}/2.0/user/emails`,
  };
  const apps = {};
  const results = Object.fromEntries(NAMES.map((n) => [n, { first: NaN, firstHandshakes: NaN, warm: [], warmHandshakes: [], quiet: [], quietHandshakes: [], cpuMicros: [] }]));
  try {
    for (const name of NAMES) {
      const child = fork(path.join(__dirname, 'app-process.js'), [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: credentials.certPath },
      });
      child.send({ type: 'start', name, emulator: endpoints });
      apps[name] = { child, base: (await once(child, 'started')).base };
    }

    /** One login through `name`'s app; returns the TCP+TLS handshakes it made. */
    const login = async (name) => {
      const request = browser();
      const authorize = (await request(`${apps[name].base}/auth/bitbucket`)).location;
      const callback = (await request(authorize)).location;
      const before = site.stats.connections + api.stats.connections;
      const done = await request(callback);
      if (done.location !== '/done') throw new Error(`${name}: login ended with ${done.status} ${done.location} ${done.body.slice(0, 200)}`);
      return site.stats.connections + api.stats.connections - before;
    };
    /** The callback legs (ms) of `name`'s logins since the last call. */
    const spans = async (name) => {
      apps[name].child.send({ type: 'spans' });
      return (await once(apps[name].child, 'spans')).ms;
    };
    const cpu = async (name) => {
      apps[name].child.send({ type: 'mark' });
      const { cpu: usage } = await once(apps[name].child, 'marked');
      return usage.user + usage.system;
    };

    for (const name of NAMES) {
      results[name].firstHandshakes = await login(name);
      results[name].first = (await spans(name))[0];
    }
    // Two more logins each before the measured ones: the pools are full and the code is warm.
    for (const name of NAMES) for (let i = 0; i < 2; i += 1) await login(name);
    for (const name of NAMES) await spans(name);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let k = 0; k < NAMES.length; k += 1) {
        const name = NAMES[(round + k) % NAMES.length];
        const before = await cpu(name);
        for (let i = 0; i < BATCH; i += 1) results[name].warmHandshakes.push(await login(name));
        results[name].cpuMicros.push(((await cpu(name)) - before) / BATCH);
        results[name].warm.push(...(await spans(name)));
      }
    }
    for (let round = 0; round < QUIET_ROUNDS; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      for (const name of NAMES) {
        results[name].quietHandshakes.push(await login(name));
        results[name].quiet.push(...(await spans(name)));
      }
    }
  } finally {
    for (const app of Object.values(apps)) app.child.kill();
    site.close();
    api.close();
    for (const front of fronts) front.server.close();
    emulator.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const cpuTargets = printCpu(
    `App CPU per warm login over TLS (µs, user + system in the app process; ${ROUNDS} interleaved rounds of ${BATCH} logins each, one at a time)`,
    Object.fromEntries(NAMES.map((n) => [n, results[n].cpuMicros])),
    { level: 'app over TLS' },
  );

  const row = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i])).join('');
  const widths = [50, 24, 24, 26];
  console.log(`\nTLS 1.3 with a ${RTT} ms round trip (two hosts); callback leg, median; RTT = leg / ${RTT} ms; handshakes per login`);
  console.log(row(['', 'first after start', `warm (${ROUNDS * BATCH})`, `after ${QUIET_MS / 1000} s quiet (${QUIET_ROUNDS})`], widths));
  const summary = {};
  for (const name of NAMES) {
    const r = results[name];
    const s = {
      first: r.first,
      warm: median(r.warm),
      quiet: median(r.quiet),
      handshakes: { first: r.firstHandshakes, warm: median(r.warmHandshakes), quiet: median(r.quietHandshakes) },
    };
    summary[name] = s;
    const cell = (ms, hs) => `${ms.toFixed(1)} ms ${(ms / RTT).toFixed(1)} RTT ${hs}h`;
    console.log(row([name, cell(s.first, s.handshakes.first), cell(s.warm, s.handshakes.warm), cell(s.quiet, s.handshakes.quiet)], widths));
  }
  const ours = summary[OURS];
  const incumbent = summary[INCUMBENT];
  console.log('');
  console.log(`Floors: warm 2 RTT (${2 * RTT} ms: token, then the API requests); cold 4 RTT (${4 * RTT} ms: TCP and TLS to the token host, the token, the API requests on connections opened meanwhile).`);
  for (const name of NAMES.filter((n) => !n.startsWith(OURS))) {
    console.log(`  ${OURS} vs ${name}: first ${(ours.first / summary[name].first).toFixed(2)}×, warm ${(ours.warm / summary[name].warm).toFixed(2)}×, after quiet ${(ours.quiet / summary[name].quiet).toFixed(2)}×`);
  }
  const targets = [
    ...cpuTargets,
    ['first login after start ≤ 0.74× ' + INCUMBENT, ours.first / incumbent.first <= 0.74, `${(ours.first / incumbent.first).toFixed(2)}×`],
    ['login after a quiet spell ≤ 0.37× ' + INCUMBENT, ours.quiet / incumbent.quiet <= 0.37, `${(ours.quiet / incumbent.quiet).toFixed(2)}×`],
    ['warm login ≤ 1.03× ' + INCUMBENT, ours.warm / incumbent.warm <= 1.03, `${(ours.warm / incumbent.warm).toFixed(2)}×`],
  ];
  console.log('\nTargets');
  for (const [label, ok, figure] of targets) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${label.padEnd(78)} ${figure}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
