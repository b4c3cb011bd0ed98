'use strict';
/** Small helpers the benchmark's parts share. */

/** The median of a list of numbers (the mean of the middle two for an even count). */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The `q` quantile (0…1) of a list of numbers, interpolated between neighbours. */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (at - lo) : s[lo];
}

/** Median, quartiles and extremes of a list of numbers. */
function spread(xs) {
  return { median: median(xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/**
 * Paired ratios: `a[i] / b[i]` for every round i (both measured in the same round, next to
 * each other), summarised. The median of these is the comparison's figure; its spread says how
 * far one round can be from another on this machine.
 */
function pairedRatios(a, b) {
  return spread(a.map((x, i) => x / b[i]));
}

/** Runs `task` `total` times, `concurrency` at a time. */
async function concurrently(total, concurrency, task) {
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started += 1;
        await task();
      }
    }),
  );
}

/** The next IPC message of `type` from a child process. */
function once(child, type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message.type === type) {
        child.off('message', listener);
        resolve(message);
      }
    };
    child.on('message', listener);
  });
}

module.exports = { median, quantile, spread, pairedRatios, concurrently, once };
