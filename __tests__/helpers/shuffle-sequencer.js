// Runs the test files in an order shuffled by a seed, so that no file's result can depend on
// which files ran before it. TEST_SHUFFLE_SEED=<n> (or "random") turns it on; without it,
// jest's own order is kept. The seed and the order are printed so that a failing order can
// be replayed.
const { createHash, randomInt } = require('node:crypto');
const { basename } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

class ShuffleSequencer extends Sequencer {
  sort(tests) {
    const setting = process.env.TEST_SHUFFLE_SEED;
    if (!setting) return super.sort(tests);
    const seed = setting === 'random' ? randomInt(2 ** 31) : Number(setting);
    if (!Number.isInteger(seed)) throw new Error(`TEST_SHUFFLE_SEED must be a whole number or "random", not ${setting}`);
    // Each file's place is the hash of the seed and its name: a different order per seed,
    // the same order for the same seed on every machine.
    const key = (test) => createHash('sha256').update(`${seed}:${basename(test.path)}`).digest('hex');
    const order = [...tests].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    process.stderr.write(`Test files shuffled with TEST_SHUFFLE_SEED=${seed}: ${order.map((t) => basename(t.path)).join(' ')}\n`);
    return order;
  }
}

module.exports = ShuffleSequencer;
