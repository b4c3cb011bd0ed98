'use strict';
/**
 * One contender's app in a process of its own, so its CPU time and peak RSS are its own.
 * Started by bench/throughput.js, bench/tls.js and bench/burst.js with fork(); told the
 * emulator's endpoints (and `extra`, see startApp); answers 'span' with its last callback leg
 * (ms), 'spans' with every leg since the last 'spans', 'mark' and 'stats' with its CPU time
 * (and peak RSS).
 */
const { startApp } = require('./apps');

let app;
process.on('message', async (message) => {
  if (message.type === 'start') {
    app = await startApp(message.name, message.emulator, message.extra);
    process.send({ type: 'started', base: app.base });
  } else if (message.type === 'span') {
    process.send({ type: 'span', ms: app.span.lastMs });
  } else if (message.type === 'spans') {
    process.send({ type: 'spans', ms: app.span.history.splice(0) });
  } else if (message.type === 'mark') {
    process.send({ type: 'marked', cpu: process.cpuUsage() });
  } else if (message.type === 'stats') {
    process.send({ type: 'stats', cpu: process.cpuUsage(), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) });
  }
});
process.on('disconnect', () => process.exit(0));
