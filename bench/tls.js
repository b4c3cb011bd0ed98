'use strict';
/**
 * npm run bench:tls [-- --rtt 20 --warm 15 --quiet-rounds 3 --quiet-seconds 7]
 *
 * Cold and warm logins over real TLS 1.3 with a real round-trip delay. The emulator sits
 * behind two TLS endpoints, as bitbucket.org (token) and api.bitbucket.org (API) are two
 * hosts, and each behind a TCP proxy that delays every chunk by half the round trip each way.
 * This package and the two peers each run in an Express + Passport app of their own (a
 * process each, trusting the test certificate), interleaved, and the script prints for each:
 * the callback leg (callback arrival → verify, measured in the app) for the first login after
 * start, warm logins, and logins after a quiet spell longer than Node's default 5 s keep-alive;
 * that leg in round trips; the TCP+TLS handshakes per login; the app's CPU per warm login; and
 * the targets (cold ≤ 0.80× and warm ≤ 1.05× passport-bitbucket-oauth2's time), PASS or FAIL.
 * Informational: it exits 0 unless the harness itself breaks. Needs openssl (a throwaway
 * self-signed certificate is made for 127.0.0.1 at every run).
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

const { values } = parseArgs({
  options: {
    rtt: { type: 'string', default: '20' },
    warm: { type: 'string', default: '15' },
    'quiet-rounds': { type: 'string', default: '3' },
    'quiet-seconds': { type: 'string', default: '7' },
  },
});
const RTT = Number(values.rtt);
const WARM = Number(values.warm);
const QUIET_ROUNDS = Number(values['quiet-rounds']);
const QUIET_MS = Number(values['quiet-seconds']) * 1000;
const NAMES = ['passport-bitbucket-auth', 'passport-bitbucket-oauth2', 'passport-bitbucket-oauth20'];
const INCUMBENT = 'passport-bitbucket-oauth2';

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
  const results = Object.fromEntries(NAMES.map((n) => [n, { first: NaN, firstHandshakes: NaN, warm: [], warmHandshakes: [], quiet: [], quietHandshakes: [], cpuMicros: 0 }]));
  try {
    for (const name of NAMES) {
      const child = fork(path.join(__dirname, 'app-process.js'), [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: credentials.certPath },
      });
      child.send({ type: 'start', name, emulator: endpoints });
      apps[name] = { child, base: (await once(child, 'started')).base };
    }

    /** One login through `name`'s app: the callback leg in ms, and the handshakes it made. */
    const login = async (name) => {
      const { child, base } = apps[name];
      const request = browser();
      const authorize = (await request(`${base}/auth/bitbucket`)).location;
      const callback = (await request(authorize)).location;
      const before = site.stats.connections + api.stats.connections;
      const done = await request(callback);
      if (done.location !== '/done') throw new Error(`${name}: login ended with ${done.status} ${done.location} ${done.body.slice(0, 200)}`);
      const handshakes = site.stats.connections + api.stats.connections - before;
      child.send({ type: 'span' });
      return { ms: (await once(child, 'span')).ms, handshakes };
    };
    const cpu = async (name) => {
      apps[name].child.send({ type: 'mark' });
      const { cpu: usage } = await once(apps[name].child, 'marked');
      return usage.user + usage.system;
    };

    for (const name of NAMES) {
      const first = await login(name);
      results[name].first = first.ms;
      results[name].firstHandshakes = first.handshakes;
    }
    for (let i = 0; i < WARM; i += 1) {
      for (const name of NAMES) {
        const before = await cpu(name);
        const { ms, handshakes } = await login(name);
        results[name].cpuMicros += (await cpu(name)) - before;
        results[name].warm.push(ms);
        results[name].warmHandshakes.push(handshakes);
      }
    }
    for (let round = 0; round < QUIET_ROUNDS; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      for (const name of NAMES) {
        const { ms, handshakes } = await login(name);
        results[name].quiet.push(ms);
        results[name].quietHandshakes.push(handshakes);
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

  const row = (cells, widths) => cells.map((c, i) => String(c).padEnd(widths[i])).join('');
  const widths = [30, 22, 22, 26, 14];
  console.log(`TLS 1.3 with a ${RTT} ms round trip (two hosts); callback leg, median; RTT = leg / ${RTT} ms; handshakes per login`);
  console.log(row(['', 'first after start', `warm (${WARM})`, `after ${QUIET_MS / 1000} s quiet (${QUIET_ROUNDS})`, 'CPU/login'], widths));
  const summary = {};
  for (const name of NAMES) {
    const r = results[name];
    const s = {
      first: r.first,
      warm: median(r.warm),
      quiet: median(r.quiet),
      cpu: r.cpuMicros / 1000 / WARM,
      handshakes: { first: r.firstHandshakes, warm: median(r.warmHandshakes), quiet: median(r.quietHandshakes) },
    };
    summary[name] = s;
    const cell = (ms, hs) => `${ms.toFixed(1)} ms ${(ms / RTT).toFixed(1)} RTT ${hs}h`;
    console.log(row([name, cell(s.first, s.handshakes.first), cell(s.warm, s.handshakes.warm), cell(s.quiet, s.handshakes.quiet), `${s.cpu.toFixed(2)} ms`], widths));
  }
  const ours = summary[NAMES[0]];
  const incumbent = summary[INCUMBENT];
  const ratio = (a, b) => a / b;
  console.log('');
  console.log(`Floors: warm 2 RTT (${2 * RTT} ms: token, then the API requests); cold 4 RTT (${4 * RTT} ms: TCP and TLS to the token host, the token, the API requests on connections opened meanwhile).`);
  const targets = [
    ['first login after start ≤ 0.80× ' + INCUMBENT, ratio(ours.first, incumbent.first), 0.8],
    ['login after a quiet spell ≤ 0.80× ' + INCUMBENT, ratio(ours.quiet, incumbent.quiet), 0.8],
    ['warm login ≤ 1.05× ' + INCUMBENT, ratio(ours.warm, incumbent.warm), 1.05],
  ];
  for (const [label, value, limit] of targets) console.log(`  ${value <= limit ? 'PASS' : 'FAIL'}  ${label.padEnd(60)} ${value.toFixed(2)}×`);
  for (const name of NAMES.slice(1)) {
    console.log(`  vs ${name}: first ${ratio(ours.first, summary[name].first).toFixed(2)}×, warm ${ratio(ours.warm, summary[name].warm).toFixed(2)}×, after quiet ${ratio(ours.quiet, summary[name].quiet).toFixed(2)}×`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
