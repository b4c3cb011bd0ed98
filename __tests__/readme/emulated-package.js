// The package as the README's app imports it, with Bitbucket's URLs replaced by the emulator's
// (EMULATOR_OPTIONS), and for Data Center what the emulator needs beside the app's own
// options (DATA_CENTER_EMULATOR_OPTIONS: allowInsecureHTTP, as on a development instance).
const path = require('node:path');
const real = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));

const emulator = JSON.parse(process.env.EMULATOR_OPTIONS || '{}');
const dataCenter = JSON.parse(process.env.DATA_CENTER_EMULATOR_OPTIONS || '{}');
class BitbucketStrategy extends real.BitbucketStrategy {
  constructor(options, verify) {
    super({ ...options, ...emulator }, verify);
  }
}
class BitbucketDataCenterStrategy extends real.BitbucketDataCenterStrategy {
  constructor(options, verify) {
    super({ ...options, ...dataCenter }, verify);
  }
}
module.exports = { ...real, BitbucketStrategy, Strategy: BitbucketStrategy, BitbucketDataCenterStrategy };
