'use strict';
/**
 * Where the demo keeps its sessions, and so the OAuth `state` (and the PKCE verifier with
 * `pkce`): in Redis when REDIS_URL is set, so that several instances behind a load balancer
 * share them; otherwise in memory, which only works with a single instance.
 */

/**
 * @param {string | undefined} redisUrl e.g. redis://127.0.0.1:6379
 * @returns {Promise<{ store: import('express-session').Store | undefined, kind: 'redis' | 'memory', close(): Promise<void> }>}
 */
async function createSessionStore(redisUrl) {
  if (!redisUrl) return { store: undefined, kind: 'memory', close: async () => undefined };
  const { createClient } = require('redis');
  const { RedisStore } = require('connect-redis');
  const client = createClient({ url: redisUrl });
  // Without a listener a lost connection would crash the process; the client reconnects.
  client.on('error', (err) => console.error(`Redis session store: ${err.message}`));
  await client.connect();
  return {
    store: new RedisStore({ client, prefix: 'bitbucket-demo:sess:' }),
    kind: 'redis',
    close: async () => {
      await client.close();
    },
  };
}

module.exports = { createSessionStore };
