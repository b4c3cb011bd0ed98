// A strict TypeScript Express app, type-checked against the published declarations.
import express from 'express';
import passport from 'passport';
import {
  BitbucketDataCenterStrategy,
  BitbucketError,
  Strategy,
  TokenError,
  type BitbucketEmail,
  type Profile,
  type VerifyFunctionWithParams,
  type VerifyFunctionWithRequest,
  withTokenParams,
} from 'passport-bitbucket-auth';
import { startBitbucketEmulator, type BitbucketEmulator } from 'passport-bitbucket-auth/testing';

declare global {
  namespace Express {
    interface User {
      id: string;
      email?: string;
    }
  }
}

const options = { clientID: process.env['BB_KEY'] ?? 'k', clientSecret: process.env['BB_SECRET'] ?? 's', callbackURL: '/auth/bitbucket/callback' };

// Inline verify functions infer their parameters.
passport.use(
  new Strategy(options, (accessToken, refreshToken, profile, done) => {
    const primary: BitbucketEmail | undefined = profile.emails.find((e) => e.primary && e.verified);
    const user: Express.User = { id: profile.id };
    if (primary) user.email = primary.value;
    done(null, user);
    void accessToken.toUpperCase();
    void refreshToken.length;
  }),
);
passport.use('bitbucket-async', new Strategy(options, async (_accessToken, _refreshToken, profile: Profile) => ({ id: profile.accountId ?? profile.id })));
passport.use('bitbucket-false', new Strategy(options, async () => false));

const withRequest: VerifyFunctionWithRequest = (req, _at, _rt, profile, done) => done(null, { id: `${req.ip}:${profile.id}` });
passport.use('bitbucket-req', new Strategy({ ...options, passReqToCallback: true }, withRequest));
const withParams: VerifyFunctionWithParams = (_at, _rt, params, profile, done) =>
  done(null, { id: profile.id, email: String(params.expires_in) });
passport.use('bitbucket-params', new Strategy({ ...options, workspaces: ['acme'], minimumWorkspaceRole: 'owner' }, withParams));

// The object form: params with no parameter counting, typed per product.
passport.use(
  'bitbucket-object',
  new Strategy(options, withTokenParams(async ({ accessToken, params, profile }) => ({ id: profile.id, email: `${accessToken.length}:${params.scope ?? ''}` }))),
);
passport.use(
  'bitbucket-dc-object',
  new BitbucketDataCenterStrategy({ ...options, baseURL: 'https://bitbucket.example.com' }, withTokenParams(({ profile, req }) => ({ id: `${profile.slug}${req === undefined ? '' : '?'}` }))),
);
// @ts-expect-error a Cloud profile has no slug
new Strategy(options, withTokenParams(({ profile }) => ({ id: profile.slug })));

// @ts-expect-error clientSecret is required
new Strategy({ clientID: 'k' }, () => undefined);
// @ts-expect-error the profile is not a string
new Strategy(options, (_a: string, _r: string, profile: string, done: (e: null) => void) => done(null));
// @ts-expect-error passReqToCallback: true needs a verify function taking the request
new Strategy({ ...options, passReqToCallback: true }, (_a: string, _r: string, _p: Profile, done: () => void) => done());

const app = express();
app.get('/auth/bitbucket', passport.authenticate('bitbucket'));
app.get('/auth/bitbucket/callback', passport.authenticate('bitbucket', { failureRedirect: '/login' }), (_req, res) => {
  res.redirect('/');
});
app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  if (err instanceof TokenError) res.status(400).send(err.code);
  else if (err instanceof BitbucketError) res.status(502).send(err.code);
  else res.status(500).end();
});

async function emulated(): Promise<BitbucketEmulator> {
  const bitbucket = await startBitbucketEmulator({ users: [{ displayName: 'T', emails: [{ email: 't@example.com' }] }] });
  passport.use('bitbucket-test', new Strategy({ ...bitbucket.strategyOptions }, async (_a, _r, profile) => ({ id: profile.id })));
  return bitbucket;
}
void emulated;
export { app };

// The typed refresh helper.
export async function freshToken(strategy: Strategy, stored: { refreshToken: string }): Promise<string> {
  const tokens = await strategy.refresh(stored.refreshToken);
  stored.refreshToken = tokens.refreshToken;
  const expires: Date | undefined = tokens.expiresAt;
  void expires;
  return tokens.accessToken;
}

// The Data Center strategy, typed the same way.
passport.use(
  new BitbucketDataCenterStrategy(
    { baseURL: process.env['BB_DC_URL'] ?? 'https://bitbucket.example.com', clientID: options.clientID, clientSecret: options.clientSecret, projects: ['ENG'] },
    async (_accessToken, _refreshToken, profile) => ({ id: profile.id }),
  ),
);
