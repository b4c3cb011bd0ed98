/**
 * withTokenParams(): the verify form that receives the token params in one object, whatever
 * the function declares, against both emulators.
 */
import type { Request } from 'express';
import { BitbucketDataCenterStrategy, BitbucketStrategy, withTokenParams, type VerifyArguments, type Profile } from '../lib';
import { startBitbucketDataCenterEmulator, startBitbucketEmulator, type BitbucketDataCenterEmulator, type BitbucketEmulator } from '../lib/testing';
import { expectType, fakeRequest, run, type Outcome } from './helpers/passport';

const CALLBACK = 'http://127.0.0.1/auth/callback';

/** The authorize redirect, the emulator's consent as `user`, then the callback. */
async function signInAs(strategy: BitbucketStrategy | BitbucketDataCenterStrategy, emulator: { authorize(user: string, params: Record<string, string>): string }, user: string): Promise<Outcome> {
  const session: Record<string, unknown> = {};
  const first = expectType(await run(strategy, fakeRequest({}, session)), 'redirect');
  const authorize = new URL(first.url);
  const params: Record<string, string> = { redirect_uri: CALLBACK };
  for (const key of ['state', 'code_challenge', 'code_challenge_method', 'scope']) {
    const value = authorize.searchParams.get(key);
    if (value) params[key] = value;
  }
  const callback = new URL(emulator.authorize(user, params));
  return run(strategy, fakeRequest(Object.fromEntries(callback.searchParams), session));
}

describe('withTokenParams()', () => {
  let cloud: BitbucketEmulator;
  let dc: BitbucketDataCenterEmulator;
  beforeAll(async () => {
    cloud = await startBitbucketEmulator();
    dc = await startBitbucketDataCenterEmulator();
  });
  afterAll(async () => {
    await cloud.close();
    await dc.close();
  });

  it('gives a Cloud verify the tokens, the params and the profile in one object', async () => {
    const seen: Array<VerifyArguments<Profile>> = [];
    const strategy = new BitbucketStrategy(
      { ...cloud.strategyOptions, callbackURL: CALLBACK },
      withTokenParams(async (args) => {
        seen.push(args);
        return { id: args.profile.id };
      }),
    );
    const outcome = expectType(await signInAs(strategy, cloud, 'ada-lovelace'), 'success');
    expect(outcome.user).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}' });
    expect(seen).toHaveLength(1);
    const [args] = seen;
    expect(Object.keys(args!).sort()).toEqual(['accessToken', 'params', 'profile', 'refreshToken', 'req']);
    expect(args).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), params: { expires_in: 7200 }, req: undefined });
    expect(args!.params).not.toHaveProperty('access_token');
    strategy.close();
  });

  it('adds the request with passReqToCallback, and takes a plain (not async) return value as the user', async () => {
    let req: Request | undefined;
    const strategy = new BitbucketStrategy(
      { ...cloud.strategyOptions, callbackURL: CALLBACK, passReqToCallback: true },
      withTokenParams(({ req: request, params, profile }) => {
        req = request;
        return { id: profile.id, scope: params.scope };
      }),
    );
    const outcome = expectType(await signInAs(strategy, cloud, 'ada-lovelace'), 'success');
    expect(outcome.user).toEqual({ id: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}', scope: 'account email' });
    expect(req?.query).toEqual(expect.objectContaining({ code: expect.any(String) }));
    strategy.close();
  });

  it('gives a Data Center verify its profile and params', async () => {
    const strategy = new BitbucketDataCenterStrategy(
      { ...dc.strategyOptions, callbackURL: CALLBACK },
      withTokenParams(async ({ params, profile }) => ({ id: profile.id, slug: profile.slug, expiresIn: params.expires_in })),
    );
    const outcome = expectType(await signInAs(strategy, dc, 'jdoe'), 'success');
    expect(outcome.user).toEqual({ id: '101', slug: 'jdoe', expiresIn: 3600 });
    strategy.close();
  });

  it('fails the login on false and errors on a rejection', async () => {
    const refusing = new BitbucketStrategy({ ...cloud.strategyOptions, callbackURL: CALLBACK }, withTokenParams(async () => false));
    expectType(await signInAs(refusing, cloud, 'ada-lovelace'), 'fail');
    const failing = new BitbucketStrategy(
      { ...cloud.strategyOptions, callbackURL: CALLBACK },
      withTokenParams(async () => {
        throw new Error('the store is down');
      }),
    );
    expect(expectType(await signInAs(failing, cloud, 'ada-lovelace'), 'error').error).toMatchObject({ message: 'the store is down' });
    refusing.close();
    failing.close();
  });

  it('is a TypeError without a function', () => {
    expect(() => withTokenParams(undefined as never)).toThrow(TypeError);
  });
});
