'use strict';
/**
 * npm run soak [-- --users 5000 --concurrency 50 --fault-rate 0.1 --timeout 1000 --seed N]
 * Signs in many distinct users at once against the emulator with random faults and reports
 * successes, clean failures, hangs, profiles delivered to the wrong user, and the heap.
 * Exits non-zero when a login hangs, reaches the wrong user, or ends in anything unexpected.
 */
const { runSoak } = require('./soak-core');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : fallback;
}

runSoak({
  users: flag('users', 5000),
  concurrency: flag('concurrency', 50),
  faultRate: flag('fault-rate', 0.1),
  timeout: flag('timeout', 1000),
  seed: flag('seed', undefined),
  progress: (line) => console.log(`  ${line}`),
}).then(
  (r) => {
    console.log(`Soak: ${r.users} distinct users, concurrency ${r.concurrency}, ${r.faultRate * 100}% of logins meet a fault, seed ${r.seed}`);
    console.log(`  successes            ${r.successes}`);
    console.log(`  clean failures       ${r.cleanFailures}  ${JSON.stringify(r.failuresByStatus)}`);
    console.log(`  hangs                ${r.hangs}  (must be 0)`);
    console.log(`  wrong user           ${r.wrongUser}  (must be 0)`);
    console.log(`  unexpected outcomes  ${r.unexpected}  (must be 0)`);
    console.log(`  duration             ${(r.durationMs / 1000).toFixed(1)} s, ${r.loginsPerSecond} logins/s`);
    console.log(`  heap before / after  ${r.heapBeforeMB} MB / ${r.heapAfterMB} MB${r.gcExposed ? '' : ' (run with --expose-gc for comparable numbers)'}`);
    if (r.hangs || r.wrongUser || r.unexpected) process.exitCode = 1;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
