'use strict';
/**
 * npm run soak [-- --users 5000 --concurrency 50 --fault-rate 0.1 --timeout 1000 --seed N --min-success 0.88]
 * Signs in many distinct users at once against the emulator with random faults and reports
 * the success rate, clean failures by kind, hangs, profiles delivered to the wrong user, and
 * the heap. Exits non-zero when a login hangs, reaches the wrong user, ends in anything
 * unexpected, or when fewer logins succeed than --min-success asks.
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
    console.log(`Soak: ${r.users} distinct users, concurrency ${r.concurrency}, ${r.faultRate * 100}% of logins meet a fault, seed ${r.seed}`);
    console.log(`  successes            ${r.successes} (${(rate * 100).toFixed(1)}%, target ≥ ${(minSuccess * 100).toFixed(0)}%)`);
    console.log(`  clean failures       ${r.cleanFailures}`);
    for (const [kind, n] of Object.entries(r.failuresByKind).sort((a, b) => b[1] - a[1])) console.log(`    ${kind.padEnd(40)} ${n}`);
    console.log(`  hangs                ${r.hangs}  (must be 0)`);
    console.log(`  wrong user           ${r.wrongUser}  (must be 0)`);
    console.log(`  unexpected outcomes  ${r.unexpected}  (must be 0)`);
    console.log(`  duration             ${(r.durationMs / 1000).toFixed(1)} s, ${r.loginsPerSecond} logins/s`);
    console.log(`  heap before / after  ${r.heapBeforeMB} MB / ${r.heapAfterMB} MB${r.gcExposed ? '' : ' (run with --expose-gc for comparable numbers)'}`);
    if (r.hangs || r.wrongUser || r.unexpected || rate < minSuccess) process.exitCode = 1;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
