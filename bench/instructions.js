'use strict';
/**
 * node bench/instructions.js [-- --from 1000 --to 4000]   (after npm run build; needs valgrind)
 *
 * Instructions per login on the strategy path (bench/strategy-path.js's login, 32 at a time,
 * against bench/fixture-server.js in a native process of its own), counted by valgrind's
 * cachegrind: each contender runs in a Node process of its own, `--single-threaded` (no
 * background compiler or GC threads, whose share moves from run to run), once with `--from`
 * logins and once with `--to`; the difference over `to - from` logins leaves start-up and
 * warm-up out. A count does not move with the machine's load the way CPU time does, so it tells
 * apart two builds whose CPU time differs by less than a shared machine's noise; it is not CPU
 * time (no kernel work, no cache misses), and repeated runs still differ by a few percent (GC
 * timing). Information only, like the other benchmarks: it exits 0 unless the harness breaks.
 *
 * `--stages`: where equal work's instructions go, against the incumbent's: each login counted whole, with its requests
 * answered in the process (no node:http), and with its token exchange and profile answered at once (see strategy-path.js).
 */
const { execFile, fork } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { concurrently } = require('./runs');
const { OURS, INCUMBENT, EQUAL_INCUMBENT: EQUAL, REFERENCE_2: REFERENCE } = require('./cpu-report');

const NAMES = [OURS, EQUAL, INCUMBENT, REFERENCE];

const { values } = parseArgs({
  options: {
    from: { type: 'string', default: '1000' }, to: { type: 'string', default: '4000' }, child: { type: 'string' }, base: { type: 'string' },
    stage: { type: 'string' }, stages: { type: 'boolean', default: false },
  },
});

if (values.child) {
  // In a process of its own, under valgrind: `--to` logins of one contender, then exit.
  const { contender } = require('./strategy-path');
  concurrently(Number(values.to), 32, contender(values.child, values.base, values.stage)).then(() => process.exit(0), (error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

/** Instructions that `logins` logins of `name` take, start-up included. */
function count(name, logins, base, stage) {
  const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, '--single-threaded', __filename,
    '--child', name, '--to', String(logins), '--base', base, ...(stage ? ['--stage', stage] : [])];
  return new Promise((resolve, reject) => {
    execFile('valgrind', args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr);
      if (error || !refs) return reject(new Error(`valgrind for ${name}: ${error ? error.message : 'no count'}\n${stderr.slice(-2000)}`));
      resolve(Number(refs[1].replaceAll(',', '')));
    });
  });
}

async function main() {
  const from = Number(values.from);
  const to = Number(values.to);
  if (!(from > 0 && to > from)) throw new Error('--to must be more than --from, and both more than 0');
  const server = fork(path.join(__dirname, 'fixture-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { base } = await new Promise((resolve) => server.once('message', resolve));
    console.log(`Instructions per login, strategy path (valgrind cachegrind, node --single-threaded; ${to} minus ${from} logins)`);
    if (values.stages) return await stages(from, to, base);
    const perLogin = {};
    for (const name of NAMES) {
      const [a, b] = await Promise.all([count(name, from, base), count(name, to, base)]);
      perLogin[name] = (b - a) / (to - from);
    }
    for (const name of NAMES) console.log(`  ${name.padEnd(52)} ${(perLogin[name] / 1000).toFixed(0).padStart(6)} k`);
    const ratio = (a, b, what) => console.log(`  ${what.padEnd(52)} ${(perLogin[a] / perLogin[b]).toFixed(2).padStart(6)}×`);
    ratio(OURS, INCUMBENT, 'defaults vs the incumbent');
    ratio(EQUAL, INCUMBENT, 'equal work vs the incumbent');
    ratio(INCUMBENT, REFERENCE, 'the incumbent vs the reference (token, user)');
  } finally {
    server.kill();
  }
}

/** `--stages`: equal work and the incumbent, each whole and with parts answered in the process; the parts by difference. */
async function stages(from, to, base) {
  const k = {};
  for (const name of [EQUAL, INCUMBENT]) {
    for (const stage of ['', 'requests', 'exchange']) {
      const [a, b] = await Promise.all([count(name, from, base, stage), count(name, to, base, stage)]);
      k[`${name}:${stage}`] = (b - a) / (to - from) / 1000;
    }
  }
  const rows = [
    ['the requests (node:http, sockets, the request code)', (n) => k[`${n}:`] - k[`${n}:requests`]],
    ['the token and profile answers handled', (n) => k[`${n}:requests`] - k[`${n}:exchange`]],
    ['the rest (Passport, state, the login, verify)', (n) => k[`${n}:exchange`]],
    ['the whole login', (n) => k[`${n}:`]],
  ];
  console.log(`  ${'k per login'.padEnd(54)}${'equal work'.padStart(11)}${'incumbent'.padStart(11)}${'difference'.padStart(12)}`);
  for (const [what, of] of rows) {
    const [a, b] = [of(EQUAL), of(INCUMBENT)];
    console.log(`  ${what.padEnd(54)}${a.toFixed(0).padStart(11)}${b.toFixed(0).padStart(11)}${(a - b).toFixed(0).padStart(12)}`);
  }
}
