// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runSoak } = require('../support/soak') as {
  runSoak(o: Record<string, unknown>): Promise<Record<string, number>>;
};

describe('soak (short run of npm run soak)', () => {
  it('signs in distinct users under random faults: no hangs, nobody gets another user\'s profile', async () => {
    // A timeout that a busy machine's healthy loopback logins do not meet, and short because
    // every stall waits it out (the token exchange's once, a GET's until the 3 × timeout deadline).
    const result = await runSoak({ users: 150, concurrency: 30, faultRate: 0.3, timeout: 500, seed: 2026 });
    expect(result['hangs']).toBe(0);
    expect(result['wrongUser']).toBe(0);
    expect(result['unexpected']).toBe(0);
    expect(result['successes']! + result['cleanFailures']!).toBe(150);
    // With 30% of each of the token, user and emails responses faulted (5xx, reset, stall),
    // both kinds of outcome occur.
    expect(result['successes']).toBeGreaterThan(50);
    expect(result['cleanFailures']).toBeGreaterThan(20);
  }, 60_000);
});
