'use strict';
/**
 * The app's CPU per login for every contender: full logins (sign-in redirect, the emulator's
 * authorize endpoint, the callback) at zero added latency, `concurrency` at a time. Each app
 * runs in a process of its own; the emulator in another; the load comes from this process.
 * Contenders are measured in turns, interleaved over several rounds, one CPU sample per
 * contender and round. Also reports logins/s (information only) and peak RSS.
 */
const { fork, spawn, spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { browser } = require('../support/browser');
const { startRemoteEmulator } = require('./remote-emulator');
const { concurrently, once } = require('./runs');

/**
 * With taskset and two CPUs or more, the app under test gets CPU 0 to itself, and this process
 * (the load) and the emulator share the rest: the app's CPU time per login is then its own,
 * not inflated by the emulator working harder for a package that makes more requests.
 */
const PIN = os.availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
function pinSelf(pid) {
  if (PIN) spawnSync('taskset', ['-a', '-p', '-c', `1-${os.availableParallelism() - 1}`, String(pid)]);
}

async function startAppProcess(name, endpoints, extra) {
  const script = path.join(__dirname, 'app-process.js');
  const child = PIN
    ? spawn('taskset', ['-c', '0', process.execPath, script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send({ type: 'start', name, emulator: endpoints, extra });
  const { base } = await once(child, 'started');
  return { child, base };
}

async function oneLogin(base) {
  const request = browser();
  const authorize = (await request(`${base}/auth/bitbucket`)).location;
  const callback = (await request(authorize)).location;
  const done = (await request(callback)).location;
  if (done !== '/done') throw new Error(`login ended at ${done}`);
}

async function load(base, logins, concurrency) {
  const t0 = process.hrtime.bigint();
  await concurrently(logins, concurrency, () => oneLogin(base));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * The app's CPU per login, paired and interleaved: in every round each contender signs in
 * `logins / rounds` users (the order rotating round by round) and the CPU time its process
 * spent on them (user + system, process.cpuUsage() read in the app before and after) is one
 * sample. Logins per second over all rounds are reported beside it, as information.
 * @returns {Promise<Record<string, { cpuMicros: number[], loginsPerSecond: number, peakRssMB: number, pinned: boolean }>>}
 *   `cpuMicros`: µs of app CPU per login, one sample per round, rounds in the same order for all
 */
async function throughput(names, { logins = 3200, concurrency = 32, rounds = 16 } = {}) {
  // Everyone signs in as one user, straight through the authorize endpoint (no consent page).
  const emulator = await startRemoteEmulator({
    users: [{ displayName: 'Bench User', username: 'bench', emails: [{ email: 'bench@example.com' }] }],
    autoApprove: 'bench',
    // Bitbucket accepts any redirect_uri that starts with the consumer's Callback URL.
    callbackURL: 'http://127.0.0.1:',
  });
  pinSelf(process.pid);
  pinSelf(emulator.pid);
  const apps = {};
  try {
    return await measure();
  } finally {
    for (const app of Object.values(apps)) app.child.kill();
    emulator.close();
  }

  async function measure() {
    for (const name of names) apps[name] = await startAppProcess(name, emulator.endpoints);
    const cpu = async (app) => {
      app.child.send({ type: 'mark' });
      const { cpu: usage } = await once(app.child, 'marked');
      return usage.user + usage.system;
    };
    for (const name of names) await load(apps[name].base, 400, concurrency); // warm up (JIT)
    const perRound = Math.ceil(logins / rounds);
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    const seconds = Object.fromEntries(names.map((n) => [n, 0]));
    for (let round = 0; round < rounds; round += 1) {
      for (let k = 0; k < names.length; k += 1) {
        const name = names[(round + k) % names.length];
        const app = apps[name];
        const before = await cpu(app);
        seconds[name] += await load(app.base, perRound, concurrency);
        samples[name].push(((await cpu(app)) - before) / perRound);
      }
    }
    const results = {};
    for (const name of names) {
      apps[name].child.send({ type: 'stats' });
      const stats = await once(apps[name].child, 'stats');
      results[name] = { cpuMicros: samples[name], loginsPerSecond: (perRound * rounds) / seconds[name], pinned: PIN, peakRssMB: stats.peakRssMB };
    }
    return results;
  }
}

module.exports = { throughput, startAppProcess, oneLogin };
