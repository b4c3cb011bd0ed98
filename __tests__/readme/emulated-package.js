// The package as the README's apps import it. Bitbucket Cloud's is the package itself: the
// Usage app reaches the emulator through the variables it reads. For Data Center, what the
// emulator needs beside the app's own options (DATA_CENTER_EMULATOR_OPTIONS: allowInsecureHTTP,
// as on a development instance).
const path = require('node:path');
const real = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));

const dataCenter = JSON.parse(process.env.DATA_CENTER_EMULATOR_OPTIONS || '{}');
class BitbucketDataCenterStrategy extends real.BitbucketDataCenterStrategy {
  constructor(options, verify) {
    super({ ...options, ...dataCenter }, verify);
  }
}
module.exports = { ...real, BitbucketDataCenterStrategy };
