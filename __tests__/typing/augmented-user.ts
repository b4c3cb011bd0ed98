/**
 * Type-level tests with `Express.User` augmented, as real apps do (the other tests leave it
 * empty, which accepts anything). Checked by `npm run typecheck`; nothing here runs.
 */
import type { Request } from 'express';
import { BitbucketDataCenterStrategy, Strategy, withTokenParams, type Profile, type VerifyCallback } from '../../lib';

declare global {
  namespace Express {
    interface User {
      id: string;
      email?: string;
    }
  }
}

const options = { clientID: 'k', clientSecret: 's' };

export const strategies = [
  new Strategy(options, async () => false),
  new Strategy(options, async () => null),
  new Strategy(options, async (_a, _r, profile) => (profile.accountId ? { id: profile.accountId } : false)),
  new Strategy(options, async (_a, _r, profile) => ({ id: profile.id, email: profile.emails[0]?.value ?? '' })),
  new Strategy(options, (_a, _r, profile, done) => done(null, { id: profile.id })),
  new Strategy(options, (_a, _r, _profile, done) => done(null, false, { message: 'no' })),
  new Strategy({ ...options, passReqToCallback: true }, async (req: Request, _a: string, _r: string, profile: Profile) => ({ id: `${req.ip}${profile.id}` })),
  new Strategy(options, withTokenParams(async ({ profile, params }) => ({ id: profile.id, email: params.scope ?? '' }))),
  new BitbucketDataCenterStrategy({ ...options, baseURL: 'https://bitbucket.example.com' }, withTokenParams(({ profile }) => ({ id: profile.id }))),
];

// @ts-expect-error a user without the app's required id
export const missingId = new Strategy(options, (_a, _r, _p, done: VerifyCallback) => done(null, { email: 'x' }));
// @ts-expect-error an async verify resolving with a string is not a user
export const stringUser = new Strategy(options, async () => 'user-1');
// @ts-expect-error an async verify resolving with the wrong user shape
export const wrongShape = new Strategy(options, async () => ({ id: 42 }));
// @ts-expect-error a withTokenParams() verify resolving with the wrong user shape
export const wrongObjectShape = new Strategy(options, withTokenParams(async ({ profile }) => ({ key: profile.id })));
// TypeScript cannot reject a four-parameter function given the five-parameter
// VerifyFunctionWithParams type (fewer parameters are always assignable), which is why the
// docs use withTokenParams() for params.
