// Sign in with Bitbucket in an Express 4 app, TypeScript (strict), passport 0.6.
// Build: npx tsc; run: BITBUCKET_CLIENT_ID=… BITBUCKET_CLIENT_SECRET=… node app.js
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { BitbucketStrategy, type StrategyOptions } from 'passport-bitbucket-auth';

declare global {
  namespace Express {
    interface User {
      id: string;
      name: string;
      email: string | undefined;
    }
  }
}

/** Starts the app on `port`; `options` are the strategy's (tests add the emulator's URLs). */
export function start(port: number, options: StrategyOptions): { close(): Promise<void> } {
  const users = new Map<string, Express.User>();
  passport.use(
    new BitbucketStrategy({ callbackURL: '/auth/bitbucket/callback', ...options }, async (_accessToken, _refreshToken, profile) => {
      const user = { id: profile.id, name: profile.displayName, email: profile.emails[0]?.value };
      users.set(user.id, user);
      return user;
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: string, done) => done(null, users.get(id) ?? false));

  const app = express();
  app.use(session({ secret: process.env['SESSION_SECRET'] ?? 'change-me', resave: false, saveUninitialized: false }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/login', (_req, res) => res.send('<a href="/auth/bitbucket">Sign in with Bitbucket</a>'));
  app.get('/auth/bitbucket', passport.authenticate('bitbucket'));
  app.get('/auth/bitbucket/callback', passport.authenticate('bitbucket', { failureRedirect: '/login' }), (_req, res) => res.redirect('/profile'));
  app.get('/profile', (req, res) => (req.user ? res.json(req.user) : res.redirect('/login')));
  const server = app.listen(port);
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

if (require.main === module) {
  start(Number(process.env['PORT'] ?? 3000), {
    clientID: process.env['BITBUCKET_CLIENT_ID'] ?? '',
    clientSecret: process.env['BITBUCKET_CLIENT_SECRET'] ?? '',
  });
}
