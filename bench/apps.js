'use strict';
/**
 * The contenders, each inside a real Express + express-session + Passport app, wired to one
 * emulator (in a process of its own, see remote-emulator.js). Used by bench/bench.js and
 * bench/app-process.js.
 */
const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { Passport } = require('passport');
const { browser } = require('../support/browser');
const { referenceHandlers } = require('./reference');

const PACKAGES = {
  'passport-bitbucket-auth': () => require('passport-bitbucket-auth').Strategy,
  'passport-bitbucket-oauth2': () => require('passport-bitbucket-oauth2').Strategy,
  'passport-bitbucket-oauth20': () => require('passport-bitbucket-oauth20').Strategy,
};

/**
 * This package made to do the work of a peer, for the equal-work comparisons:
 * `{ pkce: false, skipEmails: true }` makes the requests passport-bitbucket-oauth2 makes (token,
 * user), `{ pkce: false }` those of passport-bitbucket-oauth20 (token, user, emails).
 */
const VARIANTS = {
  'passport-bitbucket-auth {pkce:false, skipEmails}': { package: 'passport-bitbucket-auth', options: { pkce: false, skipEmails: true } },
  'passport-bitbucket-auth {pkce:false}': { package: 'passport-bitbucket-auth', options: { pkce: false } },
};

/** The hand-written sign-in (bench/reference.js) at each work level: with and without the emails request. */
const REFERENCES = {
  'reference (token, user)': { emails: false },
  'reference (token, user, emails)': { emails: true },
};

/** Which package (or reference) `name` is, and what it is compared with at equal work. */
const isReference = (name) => Object.hasOwn(REFERENCES, name);
const packageOf = (name) => (VARIANTS[name] ? VARIANTS[name].package : name);

/** A strategy of package or variant `name`: the variant's options go over `options`. */
function createStrategy(name, options, verify) {
  const variant = VARIANTS[name];
  const Strategy = PACKAGES[packageOf(name)]();
  return new Strategy({ ...options, ...(variant && variant.options) }, verify);
}

/**
 * Starts one app for `name` (a package, a variant or a reference) on a free loopback port;
 * `profiles` receives every verified profile. `extra.ours` are options for this package's
 * strategies only (e.g. `timeout`); `extra.backlog` is the listen backlog (for bursts).
 */
async function startApp(name, emulator, extra = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: extra.backlog ?? 511 }, resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const passport = new Passport();
  const profiles = [];
  // The defined span, code → token → profile → verify: from the callback's arrival in the app
  // to the verify call. The latency phase signs in one user at a time, so one slot is enough.
  // `history` keeps every leg since it was last read (bench/app-process.js 'spans').
  const span = { startedAt: 0n, lastMs: NaN, history: [] };
  const verified = (profile) => {
    span.lastMs = Number(process.hrtime.bigint() - span.startedAt) / 1e6;
    if (span.history.length < 10_000) span.history.push(span.lastMs);
    profiles.push(profile);
    if (profiles.length > 50) profiles.shift();
  };
  // Every contender gets the same endpoints and the same CSRF protection (state in the session).
  const options = {
    clientID: emulator.clientID,
    clientSecret: emulator.clientSecret,
    callbackURL: `${base}/auth/bitbucket/callback`,
    authorizationURL: emulator.authorizationURL,
    tokenURL: emulator.tokenURL,
    userProfileURL: emulator.userProfileURL,
    userEmailsURL: emulator.userEmailsURL,
    state: true,
  };
  const app = express();
  app.use(session({ secret: 'bench', resave: false, saveUninitialized: false }));
  const arrived = (req, res, next) => {
    span.startedAt = process.hrtime.bigint();
    next();
  };
  if (isReference(name)) {
    const { start, callback } = referenceHandlers(options, { emails: REFERENCES[name].emails, onSignedIn: verified });
    app.get('/auth/bitbucket', start);
    app.get('/auth/bitbucket/callback', arrived, callback);
  } else {
    const own = packageOf(name) === 'passport-bitbucket-auth' ? extra.ours : undefined;
    passport.use(
      'bitbucket',
      createStrategy(name, { ...options, ...own }, (accessToken, refreshToken, profile, done) => {
        verified(profile);
        done(null, { id: profile.id });
      }),
    );
    passport.serializeUser((user, done) => done(null, user));
    passport.deserializeUser((user, done) => done(null, user));
    app.use(passport.session());
    app.get('/auth/bitbucket', passport.authenticate('bitbucket'));
    app.get('/auth/bitbucket/callback', arrived, passport.authenticate('bitbucket', { failureRedirect: '/failed' }), (req, res) => res.redirect('/done'));
  }
  app.use((err, req, res, next) => res.status(500).send(String(err && err.message)));
  server.on('request', app);
  return {
    name,
    base,
    callbackURL: options.callbackURL,
    profiles,
    span,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * One login of `user` through `app`. The authorize leg (redirect, consent) is not timed.
 * Returns, in milliseconds, the defined span measured in the app (callback arrival → verify)
 * and the whole callback request as the browser sees it (… → session saved → redirect).
 */
async function login(app, emulator, user) {
  const request = browser();
  const start = await request(`${app.base}/auth/bitbucket`);
  const state = new URL(start.location).searchParams.get('state');
  const callback = await emulator.authorize(user, { redirect_uri: app.callbackURL, state });
  const t0 = process.hrtime.bigint();
  const done = await request(callback);
  const roundTrip = Number(process.hrtime.bigint() - t0) / 1e6;
  if (done.status !== 302 || done.location !== '/done') throw new Error(`${app.name}: login of ${user} ended with ${done.status} ${done.location}`);
  return { leg: app.span.lastMs, roundTrip };
}

module.exports = { PACKAGES, VARIANTS, REFERENCES, isReference, createStrategy, startApp, login };
