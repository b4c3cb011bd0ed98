'use strict';
// Sign in with Bitbucket in an Express 4 app, plain JavaScript, passport 0.6.
// Run: BITBUCKET_CLIENT_ID=… BITBUCKET_CLIENT_SECRET=… node app.js
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const { BitbucketStrategy } = require('passport-bitbucket-auth');

/** Starts the app on `port`; `options` are the strategy's (tests add the emulator's URLs). */
function start(port, options) {
  const users = new Map();
  passport.use(
    new BitbucketStrategy({ callbackURL: '/auth/bitbucket/callback', ...options }, async (accessToken, refreshToken, profile) => {
      const user = { id: profile.id, name: profile.displayName, email: profile.emails[0] && profile.emails[0].value };
      users.set(user.id, user);
      return user;
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, users.get(id) || false));

  const app = express();
  app.use(session({ secret: process.env.SESSION_SECRET || 'change-me', resave: false, saveUninitialized: false }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/login', (req, res) => res.send('<a href="/auth/bitbucket">Sign in with Bitbucket</a>'));
  app.get('/auth/bitbucket', passport.authenticate('bitbucket'));
  app.get('/auth/bitbucket/callback', passport.authenticate('bitbucket', { failureRedirect: '/login' }), (req, res) => res.redirect('/profile'));
  app.get('/profile', (req, res) => (req.user ? res.json(req.user) : res.redirect('/login')));
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
