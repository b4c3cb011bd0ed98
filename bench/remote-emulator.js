'use strict';
/** Starts bench/emulator-process.js and offers the emulator's API, asynchronously. */
const { fork } = require('node:child_process');
const path = require('node:path');

function reply(child, type, id) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message.type === type && (id === undefined || message.id === id)) {
        child.off('message', listener);
        resolve(message);
      }
    };
    child.on('message', listener);
  });
}

async function startRemoteEmulator(options) {
  const child = fork(path.join(__dirname, 'emulator-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // One listener per request awaiting its answer: a burst asks many at once.
  child.setMaxListeners(0);
  child.send({ type: 'start', options });
  const { endpoints } = await reply(child, 'started');
  let ids = 0;
  return {
    ...endpoints,
    endpoints,
    pid: child.pid,
    async authorize(user, params) {
      const id = ids++;
      const answer = reply(child, 'authorized', id);
      child.send({ type: 'authorize', id, user, params });
      return (await answer).url;
    },
    async setLatency(ms, endpoints) {
      const answer = reply(child, 'latency-set');
      child.send({ type: 'latency', ms, endpoints });
      await answer;
    },
    async stats() {
      const answer = reply(child, 'stats');
      child.send({ type: 'stats' });
      return (await answer).stats;
    },
    close() {
      child.kill();
    },
  };
}

module.exports = { startRemoteEmulator };
