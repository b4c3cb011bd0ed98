'use strict';
/**
 * The CPU-per-login figure that bench/bench.js and bench/tls.js print first: the contenders,
 * the comparisons between them (paired round by round) and the targets.
 */
const { pairedRatios, spread } = require('./runs');

const OURS = 'passport-bitbucket-auth';
const INCUMBENT = 'passport-bitbucket-oauth2';
const OAUTH20 = 'passport-bitbucket-oauth20';
const EQUAL_INCUMBENT = 'passport-bitbucket-auth {pkce:false, skipEmails}';
const EQUAL_OAUTH20 = 'passport-bitbucket-auth {pkce:false}';
const REFERENCE_2 = 'reference (token, user)';
const REFERENCE_3 = 'reference (token, user, emails)';

/** Everyone measured, in the order printed. */
const CONTENDERS = [OURS, EQUAL_INCUMBENT, EQUAL_OAUTH20, INCUMBENT, OAUTH20, REFERENCE_2, REFERENCE_3];

/**
 * What is compared with what. `limit`: a target (the median paired ratio must be at most it);
 * without one, the ratio is information. `appOnly`: a target for the app's CPU only, information
 * on the strategy path.
 */
const COMPARISONS = [
  { a: OURS, b: INCUMBENT, what: 'defaults vs the incumbent', limit: 1.1, appOnly: true },
  { a: EQUAL_INCUMBENT, b: INCUMBENT, what: 'equal work vs the incumbent', limit: 1 },
  { a: EQUAL_OAUTH20, b: OAUTH20, what: 'equal work vs passport-bitbucket-oauth20' },
  { a: EQUAL_INCUMBENT, b: REFERENCE_2, what: 'equal work vs the reference (token, user)' },
  { a: EQUAL_OAUTH20, b: REFERENCE_3, what: 'equal work vs the reference (token, user, emails)' },
  { a: OURS, b: REFERENCE_3, what: 'defaults vs the reference (token, user, emails)' },
  { a: INCUMBENT, b: REFERENCE_2, what: 'the incumbent vs the reference (token, user)' },
  { a: OAUTH20, b: REFERENCE_3, what: 'passport-bitbucket-oauth20 vs the reference (token, user, emails)' },
];

const pad = (text, n) => String(text).padEnd(n);
const us = (x) => `${x.toFixed(0)} µs`;

/**
 * Prints the table of `samples` (µs per login, one per round, by name) and the comparisons;
 * `extra(name)` adds a column (e.g. logins/s). Returns the targets: `[label, ok, figure]`.
 */
function printCpu(title, samples, { extra, level, app = true } = {}) {
  console.log(title);
  console.log(`  ${pad('', 50)}${pad('median', 10)}${pad('IQR', 18)}${pad('min–max', 18)}${extra ? extra.header : ''}`);
  for (const name of CONTENDERS) {
    if (!samples[name]) continue;
    const s = spread(samples[name]);
    console.log(`  ${pad(name, 50)}${pad(us(s.median), 10)}${pad(`${s.q1.toFixed(0)}–${s.q3.toFixed(0)}`, 18)}${pad(`${s.min.toFixed(0)}–${s.max.toFixed(0)}`, 18)}${extra ? extra.cell(name) : ''}`);
  }
  console.log(`  Paired ratios (per round, ${samples[OURS].length} rounds): median (IQR, min–max)`);
  const targets = [];
  for (const c of COMPARISONS) {
    if (!samples[c.a] || !samples[c.b]) continue;
    const r = pairedRatios(samples[c.a], samples[c.b]);
    const limit = c.appOnly && !app ? undefined : c.limit;
    const figure = `${r.median.toFixed(2)}× (${r.q1.toFixed(2)}–${r.q3.toFixed(2)}, ${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
    const verdict = limit === undefined ? '    ' : r.median <= limit ? 'PASS' : 'FAIL';
    console.log(`  ${verdict}  ${pad(c.what, 66)}${pad(limit === undefined ? '' : `≤ ${limit.toFixed(2)}×`, 9)}${figure}`);
    if (limit !== undefined) targets.push([`CPU per login, ${level}: ${c.what} ≤ ${limit.toFixed(2)}×`, r.median <= limit, figure]);
  }
  return targets;
}

module.exports = { CONTENDERS, COMPARISONS, OURS, INCUMBENT, OAUTH20, EQUAL_INCUMBENT, REFERENCE_2, printCpu };
