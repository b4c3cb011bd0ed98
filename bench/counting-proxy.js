'use strict';
/**
 * TCP proxies in a process of their own (forked by bench/burst.js), one per Bitbucket host,
 * each in front of the emulator's port: they count the connections a client holds open to that
 * host at once, as Bitbucket's edge would see them. Told `{ type: 'start', targetPort, hosts }`;
 * answers 'stats' with the most connections open at once per host since the last 'reset'.
 */
const net = require('node:net');

const proxies = [];

function proxy(targetPort) {
  const state = { open: 0, max: 0, total: 0 };
  const server = net.createServer((client) => {
    state.open += 1;
    state.total += 1;
    state.max = Math.max(state.max, state.open);
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      state.open -= 1;
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve({ state, port: server.address().port })));
}

process.on('message', async (message) => {
  if (message.type === 'start') {
    for (let i = 0; i < message.hosts; i += 1) proxies.push(await proxy(message.targetPort));
    process.send({ type: 'started', ports: proxies.map((p) => p.port) });
  } else if (message.type === 'reset') {
    for (const p of proxies) Object.assign(p.state, { max: p.state.open, total: 0 });
    process.send({ type: 'reset-done' });
  } else if (message.type === 'stats') {
    process.send({ type: 'stats', hosts: proxies.map((p) => ({ ...p.state })) });
  }
});
process.on('disconnect', () => process.exit(0));
