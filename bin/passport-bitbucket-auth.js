#!/usr/bin/env node
'use strict';
/**
 * `npx passport-bitbucket-auth emulator [--datacenter] [--port N] [--callback URL]`: starts the
 * Cloud emulator on port 4000 (with --datacenter, the Data Center one on 7990, Data Center's own
 * default), prints the environment variables an app reads to use it, and runs until Ctrl+C.
 */
const { parseArgs } = require('node:util');
const { startBitbucketDataCenterEmulator, startBitbucketEmulator } = require('passport-bitbucket-auth/testing');

const USAGE = 'Usage: passport-bitbucket-auth emulator [--datacenter] [--port N] [--callback URL]';
/** The variables the README's Usage app reads, for each of the Cloud strategy's options. */
const CLOUD_VARIABLES = {
  clientID: 'BITBUCKET_CLIENT_ID',
  clientSecret: 'BITBUCKET_CLIENT_SECRET',
  authorizationURL: 'BITBUCKET_AUTHORIZATION_URL',
  tokenURL: 'BITBUCKET_TOKEN_URL',
  userProfileURL: 'BITBUCKET_USER_PROFILE_URL',
  userEmailsURL: 'BITBUCKET_USER_EMAILS_URL',
  userWorkspacesURL: 'BITBUCKET_USER_WORKSPACES_URL',
};

/** Starts the emulator `args` ask for, prints what an app needs with `print`, and resolves with it (with --help, prints the usage). */
async function run(args, print) {
  const options = {
    datacenter: { type: 'boolean', default: false },
    port: { type: 'string' },
    callback: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options });
  } catch (error) {
    // Node's own words name the argument; the usage says what is taken.
    throw new TypeError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return void print(USAGE);
  const port = Number(values.port ?? (values.datacenter ? 7990 : 4000));
  if (positionals.join(' ') !== 'emulator' || !Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(USAGE);
  const emulatorOptions = { port, callbackURL: values.callback };
  if (values.datacenter) {
    const dc = await startBitbucketDataCenterEmulator(emulatorOptions);
    print(`Bitbucket Data Center emulator at ${dc.url}. Accounts: ${dc.users.map((u) => u.name).join(', ')}. Ctrl+C stops it.`);
    print(`export BITBUCKET_DC_URL=${dc.url}`);
    print(`export BITBUCKET_DC_CLIENT_ID=${dc.clientID}`);
    print(`export BITBUCKET_DC_CLIENT_SECRET=${dc.clientSecret}`);
    // The emulator speaks http: the app allows it only when told so.
    print('export BITBUCKET_DC_ALLOW_INSECURE_HTTP=true');
    return dc;
  }
  const cloud = await startBitbucketEmulator(emulatorOptions);
  print(`Bitbucket Cloud emulator at ${cloud.url}. Accounts: ${cloud.users.map((u) => u.displayName).join(', ')}. Ctrl+C stops it.`);
  for (const [option, name] of Object.entries(CLOUD_VARIABLES)) print(`export ${name}=${cloud.strategyOptions[option]}`);
  return cloud;
}

if (require.main === module) {
  run(process.argv.slice(2), (line) => console.log(line)).then(
    (emulator) => {
      if (!emulator) return;
      const stop = () => void emulator.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 2;
    },
  );
}

module.exports = { run };
