'use strict';
/**
 * npm run soak [-- --users 5000 --concurrency 50 --fault-rate 0.1 --timeout 1000 --seed N --min-success 0.88]
 * Signs in many distinct users at once against the emulator with `--fault-rate` of each of the
 * token, user and emails responses faulted (a 5xx, a reset mid-body or a stall past the
 * timeout, equally often) and reports the success rate, clean failures by kind, hangs,
 * profiles delivered to the wrong user, requests per login, and the heap. Exits non-zero when
 * a login hangs, reaches the wrong user, ends in anything unexpected, or when fewer logins
 * succeed than --min-success asks (88%: a faulted token exchange cannot be retried, so about
 * 90% is the ceiling at 10%).
 */
const { parseArgs } = require('node:util');
const { runSoak } = require('../support/soak');

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '50' },
    'fault-rate': { type: 'string', default: '0.1' },
    timeout: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    'min-success': { type: 'string', default: '0.88' },
  },
});
const minSuccess = Number(values['min-success']);

runSoak({
  users: Number(values.users),
  concurrency: Number(values.concurrency),
  faultRate: Number(values['fault-rate']),
  timeout: Number(values.timeout),
  seed: values.seed === undefined ? undefined : Number(values.seed),
  progress: (line) => console.log(`  ${line}`),
}).then(
  (r) => {
    const rate = r.successes / r.users;
    console.log(`Soak: ${r.users} distinct users, concurrency ${r.concurrency}, ${r.faultRate * 100}% of each of the token, user and emails responses faulted (5xx / reset / stall), timeout ${values.timeout} ms, seed ${r.seed}`);
    console.log(`  successes            ${r.successes} (${(rate * 100).toFixed(1)}%)`);
    console.log(`  clean failures       ${r.cleanFailures}`);
    for (const [kind, n] of Object.entries(r.failuresByKind).sort((a, b) => b[1] - a[1])) console.log(`    ${kind.padEnd(40)} ${n}`);
    console.log(`  hangs                ${r.hangs}  (must be 0)`);
    console.log(`  wrong user           ${r.wrongUser}  (must be 0)`);
    console.log(`  unexpected outcomes  ${r.unexpected}  (must be 0)`);
    console.log(`  requests per login   ${Object.entries(r.requestsPerLogin).map(([e, n]) => `${e} ${n}`).join(', ')}`);
    console.log(`  duration             ${(r.durationMs / 1000).toFixed(1)} s, ${r.loginsPerSecond} logins/s`);
    console.log(`  heap before / after  ${r.heapBeforeMB} MB / ${r.heapAfterMB} MB${r.gcExposed ? '' : ' (run with --expose-gc for comparable numbers)'}`);
    console.log('Targets');
    const targets = [
      [`≥ ${(minSuccess * 100).toFixed(0)}% of logins succeed`, rate >= minSuccess, `${(rate * 100).toFixed(1)}%`],
      ['0 hangs', r.hangs === 0, String(r.hangs)],
      ['0 wrong users', r.wrongUser === 0, String(r.wrongUser)],
      ['0 unexpected outcomes', r.unexpected === 0, String(r.unexpected)],
    ];
    for (const [label, ok, figure] of targets) console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${label.padEnd(30)}${figure}`);
    if (targets.some(([, ok]) => !ok)) process.exitCode = 1;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
