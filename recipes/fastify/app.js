'use strict';
// Sign in with Bitbucket in a Fastify 5 app, with @fastify/passport and @fastify/session.
// Run: BITBUCKET_CLIENT_ID=… BITBUCKET_CLIENT_SECRET=… SESSION_SECRET=<32+ characters> node app.js
// The callbackURL is absolute: passport-oauth2 resolves a relative one from `req.connection`,
// which Fastify's request does not have.
const Fastify = require('fastify');
const { Authenticator } = require('@fastify/passport');
const { BitbucketStrategy } = require('passport-bitbucket-auth');

/** Starts the app on `port`; `options` are the strategy's (tests add the emulator's URLs). */
async function start(port, options) {
  const passport = new Authenticator();
  const callbackURL = `${process.env.BASE_URL || `http://localhost:${port}`}/auth/bitbucket/callback`;
  passport.use('bitbucket', new BitbucketStrategy({ callbackURL, ...options }, async (accessToken, refreshToken, profile) => ({
    id: profile.id,
    name: profile.displayName,
    email: profile.emails[0] && profile.emails[0].value,
  })));
  passport.registerUserSerializer(async (user) => JSON.stringify(user));
  passport.registerUserDeserializer(async (serialized) => JSON.parse(serialized));

  const app = Fastify();
  await app.register(require('@fastify/cookie'));
  await app.register(require('@fastify/session'), {
    secret: process.env.SESSION_SECRET || 'change-me-to-a-secret-of-32-characters-or-more',
    cookie: { secure: 'auto' },
    saveUninitialized: false,
  });
  await app.register(passport.initialize());
  await app.register(passport.secureSession());
  app.get('/login', async (request, reply) => reply.type('text/html').send('<a href="/auth/bitbucket">Sign in with Bitbucket</a>'));
  app.get('/auth/bitbucket', { preValidation: passport.authenticate('bitbucket') }, async () => undefined);
  app.get(
    '/auth/bitbucket/callback',
    { preValidation: passport.authenticate('bitbucket', { failureRedirect: '/login' }) },
    async (request, reply) => reply.redirect('/profile'),
  );
  app.get('/profile', async (request, reply) => (request.user ? request.user : reply.redirect('/login')));
  await app.listen({ port, host: '127.0.0.1' });
  return { close: () => app.close() };
}

module.exports = { start };
if (require.main === module) {
  start(Number(process.env.PORT || 3000), {
    clientID: process.env.BITBUCKET_CLIENT_ID,
    clientSecret: process.env.BITBUCKET_CLIENT_SECRET,
  });
}
