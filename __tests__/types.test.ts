/**
 * Type-level tests: ts-jest type-checks this file, so each `@ts-expect-error` that stops being
 * an error fails the run. The runtime assertions check the overloads pick the right arguments.
 */
import type { Request } from 'express';
import {
  BitbucketDataCenterStrategy,
  BitbucketStrategy,
  type DataCenterProfile,
  type DataCenterVerifyFunctionWithParams,
  Strategy,
  type BitbucketEmail,
  type Profile,
  type StrategyOptions,
  type TokenParams,
  type VerifyCallback,
  type VerifyFunctionWithParams,
  type VerifyFunctionWithRequestAndParams,
  type VerifyArguments,
  withTokenParams,
} from '../lib';

const options = { clientID: 'k', clientSecret: 's' };

function assertType<T>(value: T): T {
  return value;
}

describe('types', () => {
  it('infers untyped inline verify functions of every supported shape', () => {
    const four = new Strategy(options, (accessToken, refreshToken, profile, done) => {
      assertType<string>(accessToken);
      assertType<string>(refreshToken);
      assertType<Profile>(profile);
      assertType<BitbucketEmail[]>(profile.emails);
      assertType<boolean>(profile.emails[0]?.verified ?? false);
      assertType<string | undefined>(profile.accountId);
      assertType<VerifyCallback>(done);
      done(null, { id: profile.id });
    });
    // With token params, name the function type (TypeScript gives no contextual type to an
    // inline function with more parameters than the first overload).
    const withParams: VerifyFunctionWithParams = (accessToken, refreshToken, params, profile, done) => {
      assertType<TokenParams>(params);
      assertType<string | undefined>(params.scope);
      done(null, { id: profile.id, accessToken, refreshToken });
    };
    const five = new Strategy(options, withParams);
    const withReq = new Strategy({ ...options, passReqToCallback: true }, (req, accessToken, _refreshToken, profile, done) => {
      assertType<Request>(req);
      done(null, { id: profile.id, accessToken });
    });
    const reqParams: VerifyFunctionWithRequestAndParams = (req, _a, _r, params, profile, done) => {
      assertType<Request>(req);
      assertType<TokenParams>(params);
      done(null, { id: profile.id });
    };
    const withReqParams = new Strategy({ ...options, passReqToCallback: true }, reqParams);
    const asyncVerify = new BitbucketStrategy(options, async (_a, _r, profile) => ({ id: profile.id }));
    const asyncFalse = new BitbucketStrategy(options, async () => false);
    const strategies = [four, five, withReq, withReqParams, asyncVerify, asyncFalse];
    expect(strategies.map((s) => s.name)).toEqual(Array(6).fill('bitbucket'));
  });

  it('infers the Data Center strategy\'s verify functions and refuses Cloud-only options', () => {
    const dcOptions = { baseURL: 'https://bitbucket.example.com', clientID: 'k', clientSecret: 's' };
    const inline = new BitbucketDataCenterStrategy(dcOptions, async (accessToken, refreshToken, profile) => {
      assertType<string>(accessToken);
      assertType<string>(refreshToken);
      assertType<DataCenterProfile>(profile);
      assertType<'bitbucket-datacenter'>(profile.provider);
      assertType<boolean>(profile.emails[0]?.verified ?? false);
      return { id: profile.id };
    });
    const withParams: DataCenterVerifyFunctionWithParams = (_a, _r, params, profile, done) => done(null, { id: profile.slug, scope: params.scope });
    const withRequest = new BitbucketDataCenterStrategy({ ...dcOptions, passReqToCallback: true }, (req, _a, _r, profile, done) => done(null, { id: `${req.ip}:${profile.id}` }));
    const attempts: Array<() => unknown> = [
      // @ts-expect-error baseURL is required
      () => new BitbucketDataCenterStrategy({ clientID: 'k', clientSecret: 's' }, () => undefined),
      // @ts-expect-error workspaces are Cloud's
      () => new BitbucketDataCenterStrategy({ ...dcOptions, workspaces: ['w'] }, () => undefined),
      // @ts-expect-error the Data Center profile is not the Cloud one
      () => new BitbucketDataCenterStrategy(dcOptions, (_a: string, _r: string, profile: import('../lib').Profile, done: VerifyCallback) => done(null, profile)),
    ];
    expect(attempts).toHaveLength(3);
    const strategies = [inline, new BitbucketDataCenterStrategy(dcOptions, withParams), withRequest];
    expect(strategies.map((s) => s.name)).toEqual(Array(3).fill('bitbucket-datacenter'));
    for (const strategy of strategies) strategy.close();
  });

  it('infers the object of a withTokenParams() verify for each product, with and without the request', () => {
    const dcOptions = { baseURL: 'https://bitbucket.example.com', clientID: 'k', clientSecret: 's' };
    const cloud = new BitbucketStrategy(
      options,
      withTokenParams(async ({ accessToken, refreshToken, params, profile, req }) => {
        assertType<string>(accessToken);
        assertType<string>(refreshToken);
        assertType<TokenParams>(params);
        assertType<Profile>(profile);
        assertType<undefined>(req);
        return { id: profile.id };
      }),
    );
    const cloudReq = new BitbucketStrategy(
      { ...options, passReqToCallback: true },
      withTokenParams(({ req, profile }) => ({ id: `${assertType<Request>(req).ip}${profile.accountId}` })),
    );
    const dc = new BitbucketDataCenterStrategy(
      dcOptions,
      withTokenParams(async ({ params, profile }) => ({ id: assertType<DataCenterProfile>(profile).slug, scope: params.scope })),
    );
    const dcReq = new BitbucketDataCenterStrategy({ ...dcOptions, passReqToCallback: true }, withTokenParams(({ req, profile }) => ({ id: `${req.ip}${profile.id}` })));
    // Declared on its own, the argument's type says which product it is for.
    const standalone = withTokenParams(async ({ profile }: VerifyArguments<Profile>) => ({ id: profile.id }));
    const named = new BitbucketStrategy(options, standalone);
    const attempts: Array<() => unknown> = [
      // @ts-expect-error without passReqToCallback there is no request
      () => new BitbucketStrategy(options, withTokenParams(({ req }) => ({ id: req.ip }))),
      // @ts-expect-error the Cloud profile has no slug
      () => new BitbucketStrategy(options, withTokenParams(({ profile }) => ({ id: profile.slug }))),
      // @ts-expect-error a verify written for Cloud profiles is not a Data Center one
      () => new BitbucketDataCenterStrategy(dcOptions, standalone),
      // @ts-expect-error a verify with the request needs passReqToCallback: true
      () => new BitbucketStrategy(options, withTokenParams(async ({ profile }: VerifyArguments<Profile, Request>) => ({ id: profile.id }))),
    ];
    expect(attempts).toHaveLength(4);
    const strategies = [cloud, cloudReq, dc, dcReq, named];
    expect(strategies.map((s) => s.name)).toEqual(['bitbucket', 'bitbucket', 'bitbucket-datacenter', 'bitbucket-datacenter', 'bitbucket']);
    for (const strategy of strategies) strategy.close();
  });

  it('rejects what must not compile', () => {
    const attempts: Array<() => unknown> = [
      // @ts-expect-error clientSecret is required
      () => new Strategy({ clientID: 'k' }, () => undefined),
      // @ts-expect-error timeout is a number
      () => new Strategy({ ...options, timeout: '10' }, () => undefined),
      // @ts-expect-error unknown option names are typos
      () => new Strategy({ ...options, clientId: 'k' }, () => undefined),
      // @ts-expect-error the profile is a Profile, not a number
      () => new Strategy(options, (_a: string, _r: string, profile: number, done: VerifyCallback) => done(null, profile)),
      // @ts-expect-error a verify function with the request needs passReqToCallback: true
      () => new Strategy(options, (_req: Request, _a: string, _r: string, _p: Profile, done: VerifyCallback) => done(null)),
      // @ts-expect-error the verify function is required
      () => new Strategy(options),
      // @ts-expect-error the token params come before the profile, not after it
      () => new Strategy(options, (_a: string, _r: string, _p: Profile, _params: TokenParams, done: VerifyCallback) => done(null)),
      // @ts-expect-error a pkce method Bitbucket's flow does not know
      () => new Strategy({ ...options, pkce: 'S512' }, () => undefined),
    ];
    // Each would throw or build at run time; here only the type errors matter.
    expect(attempts).toHaveLength(8);
    const typed: StrategyOptions = { ...options, scope: ['account', 'email'], pkce: 'S256', timeout: 5000 };
    expect(new Strategy(typed, () => undefined).name).toBe('bitbucket');
    // Under exactOptionalPropertyTypes (on here, as in tsc --init since TypeScript 5.9), an
    // optional option takes a value that may be undefined, as process.env gives them.
    const env: Record<string, string | undefined> = { CALLBACK_URL: undefined };
    const fromEnv = new Strategy(
      { ...options, callbackURL: env['CALLBACK_URL'], userAgent: env['UA'], workspaces: ['acme'] as const, timeout: undefined },
      () => undefined,
    );
    expect(fromEnv.name).toBe('bitbucket');
  });
});
