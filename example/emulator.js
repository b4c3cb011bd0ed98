'use strict';
/**
 * A standalone local Bitbucket, for running several demo instances against one emulator:
 *   CALLBACK_URL=http://localhost:8080/auth/bitbucket/callback EMULATOR_PORT=4000 npm run emulator
 * then start each instance with EMULATOR_URL=http://127.0.0.1:4000. For any other app,
 * `npx passport-bitbucket-auth emulator` does the same and prints the variables the app reads.
 */
const { startBitbucketEmulator } = require('passport-bitbucket-auth/testing');

startBitbucketEmulator({
  port: Number(process.env.EMULATOR_PORT || 4000),
  callbackURL: process.env.CALLBACK_URL || 'http://localhost:3000/auth/bitbucket/callback',
}).then(
  (emulator) => {
    console.log(`Local Bitbucket emulator at ${emulator.url} (Key ${emulator.clientID}, Secret ${emulator.clientSecret})`);
    const stop = () => void emulator.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (err) => {
    console.error(`Could not start the emulator: ${err.message}`);
    process.exitCode = 1;
  },
);
