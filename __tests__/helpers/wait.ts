/**
 * Waits for a condition instead of for a fixed time: re-checks it on every turn of the event
 * loop, after the I/O of that turn, and rejects with `what` if it does not hold by `limitMs`.
 */
export async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Lets every callback already queued (promise reactions, process.nextTick, and the timers and
 * I/O of the current turn) run, so that a test can check that nothing further happened.
 */
export async function drained(): Promise<void> {
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** A clock a test moves by hand, for code that takes `now: () => number`. */
export class ManualClock {
  constructor(private time = Date.UTC(2026, 10, 24)) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}
