'use strict';
/**
 * The emulator in a process of its own: the real Bitbucket does not share the app's event
 * loop either. Driven over IPC by bench/remote-emulator.js.
 */
const { startBitbucketEmulator } = require('passport-bitbucket-auth/testing');

let emulator;
process.on('message', async (message) => {
  switch (message.type) {
    case 'start':
      emulator = await startBitbucketEmulator(message.options);
      process.send({ type: 'started', endpoints: { url: emulator.url, ...emulator.strategyOptions } });
      break;
    case 'authorize':
      process.send({ type: 'authorized', id: message.id, url: emulator.authorize(message.user, message.params) });
      break;
    case 'latency':
      for (const endpoint of message.endpoints) emulator.setLatency(message.ms, endpoint);
      process.send({ type: 'latency-set' });
      break;
    case 'stats':
      process.send({ type: 'stats', stats: { ...emulator.stats } });
      break;
  }
});
process.on('disconnect', () => process.exit(0));
