import type { Request } from 'express';
import { Strategy, type Profile, type TokenParams, type VerifyFunctionWithParams, type VerifyFunctionWithRequestAndParams } from '../lib';
import { ACCESS_TOKEN, options, REFRESH_TOKEN } from './helpers/bitbucket';
import { expectType, signIn, type Outcome } from './helpers/passport';
import { mockApi, mockToken } from './helpers/nock';
import { drained } from './helpers/wait';

async function login(strategy: Strategy, log: string[] = []): Promise<Outcome> {
  mockToken();
  mockApi();
  return (await signIn(strategy, 'the-code', {}, log)).outcome;
}


describe('verify callbacks', () => {
  it('calls a 4-argument verify with tokens and profile', async () => {
    const seen: unknown[] = [];
    const strategy = new Strategy(options, (accessToken, refreshToken, profile, done) => {
      seen.push(accessToken, refreshToken, profile.provider);
      done(null, { id: 1 }, { message: 'welcome' });
    });
    const outcome = expectType(await login(strategy), 'success');
    expect(seen).toEqual([ACCESS_TOKEN, REFRESH_TOKEN, 'bitbucket']);
    expect(outcome.user).toEqual({ id: 1 });
    expect(outcome.info).toEqual({ message: 'welcome' });
  });

  it('calls a 5-argument verify with the token params', async () => {
    let params: TokenParams | undefined;
    const verify: VerifyFunctionWithParams = (_a, _r, p, profile, done) => {
      params = p;
      done(null, { id: profile.id });
    };
    const strategy = new Strategy(options, verify);
    expectType(await login(strategy), 'success');
    expect(params?.expires_in).toBe(7200);
  });

  it('calls a 5-argument verify with the request when passReqToCallback is set', async () => {
    let req: Request | undefined;
    const strategy = new Strategy({ ...options, passReqToCallback: true }, (r, _a, _r, profile, done) => {
      req = r;
      done(null, { id: profile.id });
    });
    expectType(await login(strategy), 'success');
    expect(req?.query).toEqual(expect.objectContaining({ code: 'the-code' }));
  });

  it('calls a 6-argument verify with the request and the params', async () => {
    const seen: unknown[] = [];
    const verify: VerifyFunctionWithRequestAndParams = (r, a, _r, p, profile, done) => {
      seen.push(r.method, a, p.token_type, profile.id);
      done(null, {});
    };
    const strategy = new Strategy({ ...options, passReqToCallback: true }, verify);
    expectType(await login(strategy), 'success');
    expect(seen).toEqual(['GET', ACCESS_TOKEN, 'bearer', '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}']);
  });

  it('uses the user an async verify resolves with', async () => {
    const strategy = new Strategy(options, async (_a, _r, profile: Profile) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { id: profile.accountId };
    });
    const outcome = expectType(await login(strategy), 'success');
    expect(outcome.user).toEqual({ id: '5c65cab48bcc9e016aeece31' });
  });

  it('errors when an async verify resolves with true, which names no user', async () => {
    const strategy = new Strategy(options, async () => true);
    const outcome = expectType(await login(strategy), 'error');
    expect(outcome.error).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/gave true/) as unknown });
  });

  it.each([
    ['false', false],
    ['null', null],
    ['undefined', undefined],
  ])('fails the login when an async verify resolves with %s', async (_label, value) => {
    const strategy = new Strategy(options, async () => value);
    expectType(await login(strategy), 'fail');
  });

  it('turns an async verify\'s rejection into the authentication error, without an unhandled rejection', async () => {
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const strategy = new Strategy(options, async () => {
        throw new Error('database down');
      });
      const outcome = expectType(await login(strategy), 'error');
      expect(outcome.error).toEqual(new Error('database down'));
      await drained();
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('wraps a rejection with a non-Error value', async () => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error
    const strategy = new Strategy(options, () => Promise.reject('nope'));
    const outcome = expectType(await login(strategy), 'error');
    expect(outcome.error).toMatchObject({ message: expect.stringMatching(/rejected with a value that is not an Error/) as unknown, cause: 'nope' });
  });

  it('lets an async verify that declares done call it later', async () => {
    const strategy = new Strategy(options, async (_a, _r, profile, done) => {
      setTimeout(() => done(null, { late: profile.id }), 5);
    });
    const outcome = expectType(await login(strategy), 'success');
    expect(outcome.user).toEqual({ late: '{0b7a1c3e-5d2f-4e8a-9c41-7f3e2a9d6b15}' });
  });

  it('settles once when done is called and the promise also resolves', async () => {
    const log: string[] = [];
    const strategy = new Strategy(options, async (_a, _r, _p, done) => {
      done(null, { from: 'done' });
      return { from: 'promise' };
    });
    expect(expectType(await login(strategy, log), 'success').user).toEqual({ from: 'done' });
    await drained();
    expect(log).toEqual(['success']);
  });

  it('ignores a second call of done', async () => {
    const log: string[] = [];
    const strategy = new Strategy(options, (_a, _r, _p, done) => {
      done(null, { n: 1 });
      done(null, { n: 2 });
    });
    const outcome = expectType(await login(strategy, log), 'success');
    expect(outcome.user).toEqual({ n: 1 });
    await drained();
    expect(log).toEqual(['success']);
  });

  it('turns a synchronous throw into the authentication error', async () => {
    const strategy = new Strategy(options, () => {
      throw new Error('bug in verify');
    });
    const outcome = expectType(await login(strategy), 'error');
    expect(outcome.error).toEqual(new Error('bug in verify'));
  });

  it('passes an error given to done', async () => {
    const strategy = new Strategy(options, (_a, _r, _p, done) => done(new Error('no such user')));
    expect(expectType(await login(strategy), 'error').error).toEqual(new Error('no such user'));
  });

  it('ignores a throw after done was called', async () => {
    const log: string[] = [];
    const strategy = new Strategy(options, (_a, _r, _p, done) => {
      done(null, { ok: true });
      throw new Error('after done');
    });
    expect(expectType(await login(strategy, log), 'success').user).toEqual({ ok: true });
    await drained();
    expect(log).toEqual(['success']);
  });

  it('keeps the strategy as this', async () => {
    let self: unknown;
    const strategy = new Strategy(options, function (this: unknown, _a: string, _r: string, _p: Profile, done) {
      self = this;
      done(null, {});
    });
    expectType(await login(strategy), 'success');
    expect(Object.getPrototypeOf(self)).toBe(strategy);
  });
});
