'use strict';
/** Small helpers the benchmark's parts share. */

/** The median of a list of numbers (the mean of the middle two for an even count). */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
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

module.exports = { median, concurrently };
