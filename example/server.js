'use strict';
/**
 * Starts the demo. With BITBUCKET_CLIENT_ID and BITBUCKET_CLIENT_SECRET set it signs in with
 * bitbucket.org; without them it starts the local Bitbucket emulator and uses that.
 *
 *   PORT (3000) · HOST (localhost) · BASE_URL (http://localhost:$PORT) · SESSION_SECRET
 *   BITBUCKET_WORKSPACES: comma-separated workspace slugs; only their members may sign in
 *   EMULATOR_URL: use an emulator started elsewhere (npm run emulator) instead of starting one,
 *                 so that several instances share it
 *   REDIS_URL: keep sessions (and so the OAuth state) in Redis, shared by every instance;
 *              needs SESSION_SECRET, the same on every instance
 *   BITBUCKET_DC_URL, BITBUCKET_DC_CLIENT_ID, BITBUCKET_DC_CLIENT_SECRET: also sign in with
 *              this Bitbucket Data Center (an incoming application link whose Redirect URL is
 *              $BASE_URL/auth/bitbucket-dc/callback); with the emulator and none of them, the
 *              local Data Center emulator is offered beside the Cloud one;
 *              BITBUCKET_DC_ALLOW_INSECURE_HTTP=true for an http: one (the emulator)
 */
const { createApp } = require('./app');
const { createSessionStore } = require('./session-store');
const { startBitbucketEmulator, startBitbucketDataCenterEmulator } = require('passport-bitbucket-auth/testing');

async function main() {
  const port = Number(process.env.PORT || 3000);
  const host = process.env.HOST || 'localhost';
  const baseURL = (process.env.BASE_URL || `http://localhost:${port}`).replace(/\/$/, '');
  const config = { baseURL, sessionSecret: process.env.SESSION_SECRET };
  if (process.env.REDIS_URL && !process.env.SESSION_SECRET) {
    throw new Error('REDIS_URL needs SESSION_SECRET: every instance must sign session cookies with the same secret');
  }
  const sessions = await createSessionStore(process.env.REDIS_URL);
  config.sessionStore = sessions.store;
  console.log(sessions.kind === 'redis' ? 'Sessions are kept in Redis (REDIS_URL).' : 'Sessions are kept in memory: run a single instance, or set REDIS_URL.');
  const workspaces = (process.env.BITBUCKET_WORKSPACES || '')
    .split(',')
    .map((slug) => slug.trim())
    .filter(Boolean);
  if (workspaces.length) {
    config.workspaces = workspaces;
    console.log(`Only members of these workspaces may sign in: ${workspaces.join(', ')}`);
  }
  let emulator;

  if (process.env.BITBUCKET_CLIENT_ID && process.env.BITBUCKET_CLIENT_SECRET) {
    Object.assign(config, {
      clientID: process.env.BITBUCKET_CLIENT_ID,
      clientSecret: process.env.BITBUCKET_CLIENT_SECRET,
    });
    console.log('Signing in with bitbucket.org (BITBUCKET_CLIENT_ID is set).');
    console.log(`The OAuth consumer's Callback URL must be ${baseURL}/auth/bitbucket/callback`);
  } else if (process.env.EMULATOR_URL) {
    const url = process.env.EMULATOR_URL.replace(/\/$/, '');
    Object.assign(config, {
      emulator: true,
      clientID: 'emulator-key',
      clientSecret: 'emulator-secret',
      authorizationURL: `${url}/site/oauth2/authorize`,
      tokenURL: `${url}/site/oauth2/access_token`,
      userProfileURL: `${url}/2.0/user`,
      userEmailsURL: `${url}/2.0/user/emails`,
      userWorkspacesURL: `${url}/2.0/user/workspaces`,
    });
    console.log(`Using the Bitbucket emulator at ${url} (EMULATOR_URL)`);
  } else {
    emulator = await startBitbucketEmulator({
      callbackURL: `${baseURL}/auth/bitbucket/callback`,
      port: Number(process.env.EMULATOR_PORT || 0),
    });
    Object.assign(config, { emulator: true }, emulator.strategyOptions);
    console.log(`No BITBUCKET_CLIENT_ID/BITBUCKET_CLIENT_SECRET: using the local Bitbucket emulator at ${emulator.url}`);
    console.log(`Demo accounts: ${emulator.users.map((u) => u.displayName).join(', ')}`);
  }

  let dataCenterEmulator;
  if (process.env.BITBUCKET_DC_URL && process.env.BITBUCKET_DC_CLIENT_ID && process.env.BITBUCKET_DC_CLIENT_SECRET) {
    config.dataCenter = {
      baseURL: process.env.BITBUCKET_DC_URL,
      clientID: process.env.BITBUCKET_DC_CLIENT_ID,
      clientSecret: process.env.BITBUCKET_DC_CLIENT_SECRET,
      allowInsecureHTTP: process.env.BITBUCKET_DC_ALLOW_INSECURE_HTTP === 'true',
    };
    console.log(`Also signing in with Bitbucket Data Center at ${process.env.BITBUCKET_DC_URL}; its Redirect URL must be ${baseURL}/auth/bitbucket-dc/callback`);
  } else if (config.emulator) {
    dataCenterEmulator = await startBitbucketDataCenterEmulator({ callbackURL: `${baseURL}/auth/bitbucket-dc/callback` });
    config.dataCenter = dataCenterEmulator.strategyOptions;
    console.log(`And a local Bitbucket Data Center emulator at ${dataCenterEmulator.baseURL}`);
  }

  const app = createApp(config);
  // Express 5 passes a listen error (EADDRINUSE: the port is taken) to this callback.
  const server = app.listen(port, host, (err) => {
    if (!err) {
      console.log(`Demo running at ${baseURL}, listening on ${host}:${port} (Ctrl+C to stop)`);
      return;
    }
    const hint = err.code === 'EADDRINUSE' ? ` (port ${port} is taken: set PORT, e.g. PORT=3001 npm start)` : '';
    console.error(`Could not start the demo on ${host}:${port}: ${err.message}${hint}`);
    process.exitCode = 1;
    if (emulator) void emulator.close();
    if (dataCenterEmulator) void dataCenterEmulator.close();
    void sessions.close();
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
    if (emulator) void emulator.close();
    if (dataCenterEmulator) void dataCenterEmulator.close();
    void sessions.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exitCode = 1;
});
