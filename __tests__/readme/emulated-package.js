// The package as the README's app imports it, with Bitbucket's URLs replaced by the emulator's.
const path = require('node:path');
const real = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));

const emulator = JSON.parse(process.env.EMULATOR_OPTIONS || '{}');
class BitbucketStrategy extends real.BitbucketStrategy {
  constructor(options, verify) {
    super({ ...options, ...emulator }, verify);
  }
}
module.exports = { ...real, BitbucketStrategy, Strategy: BitbucketStrategy };
