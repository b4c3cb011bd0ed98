'use strict';
// Sign in with Bitbucket in a Koa app, with koa-passport and koa-session.
// Run: BITBUCKET_CLIENT_ID=… BITBUCKET_CLIENT_SECRET=… SESSION_SECRET=… node app.js
const Koa = require('koa');
const Router = require('@koa/router');
const { createSession } = require('koa-session');
const passport = require('koa-passport');
const { BitbucketStrategy } = require('passport-bitbucket-auth');

/** Starts the app on `port`; `options` are the strategy's (tests add the emulator's URLs). */
function start(port, options) {
  passport.use(new BitbucketStrategy({ callbackURL: '/auth/bitbucket/callback', ...options }, async (accessToken, refreshToken, profile) => ({
    id: profile.id,
    name: profile.displayName,
    email: profile.emails[0] && profile.emails[0].value,
  })));
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));

  const app = new Koa();
  app.keys = [process.env.SESSION_SECRET || 'change-me'];
  app.use(createSession({}, app));
  app.use(passport.initialize());
  app.use(passport.session());
  const router = new Router();
  router.get('/login', (ctx) => {
    ctx.type = 'html';
    ctx.body = '<a href="/auth/bitbucket">Sign in with Bitbucket</a>';
  });
  router.get('/auth/bitbucket', passport.authenticate('bitbucket'));
  router.get('/auth/bitbucket/callback', passport.authenticate('bitbucket', { successRedirect: '/profile', failureRedirect: '/login' }));
  router.get('/profile', (ctx) => {
    if (ctx.isAuthenticated()) ctx.body = ctx.state.user;
    else ctx.redirect('/login');
  });
  app.use(router.routes());
  const server = app.listen(port);
  return { close: () => new Promise((resolve) => server.close(resolve)) };
}

module.exports = { start };
if (require.main === module) {
  start(Number(process.env.PORT || 3000), {
    clientID: process.env.BITBUCKET_CLIENT_ID,
    clientSecret: process.env.BITBUCKET_CLIENT_SECRET,
  });
}
