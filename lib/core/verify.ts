import type { TokenParamsVerify, VerifyArguments, VerifyCallback, VerifyResult } from './types';

// A global symbol, so that a function marked by one copy of the package is known to another.
const TOKEN_PARAMS = Symbol.for('passport-bitbucket-auth.withTokenParams');

/**
 * Marks a verify function that takes **one object**, `{ accessToken, refreshToken, params,
 * profile, req }`, and returns (or resolves with) the user, `false` to refuse the login.
 * This is the form to use when you want the token `params` (`expires_in`, `scope`, …):
 * nothing depends on how many parameters the function declares. `req` is the request with
 * `passReqToCallback: true`, otherwise `undefined`.
 *
 * Written inline in the constructor, the object's types are inferred:
 *
 * ```ts
 * new BitbucketStrategy(options, withTokenParams(async ({ accessToken, refreshToken, params, profile }) => {
 *   await saveTokens(profile.id, accessToken, refreshToken, params.expires_in);
 *   return { id: profile.id };
 * }));
 * ```
 *
 * Declared on its own, give the argument's type: `withTokenParams(async (args:
 * VerifyArguments<Profile>) => …)` (`VerifyArguments<Profile, Request>` with the request).
 */
export function withTokenParams<P = unknown, Req = undefined>(
  verify: (args: VerifyArguments<P, Req>) => VerifyResult | PromiseLike<VerifyResult>,
): TokenParamsVerify<P, Req> {
  if (typeof verify !== 'function') {
    throw new TypeError('passport-bitbucket-auth: withTokenParams() takes a verify function');
  }
  const marked = (args: VerifyArguments<P, Req>): VerifyResult | PromiseLike<VerifyResult> => verify(args);
  Object.defineProperty(marked, TOKEN_PARAMS, { value: true });
  return marked as TokenParamsVerify<P, Req>;
}

function takesObject(fn: AnyVerify): boolean {
  return (fn as unknown as Record<symbol, unknown>)[TOKEN_PARAMS] === true;
}

type AnyVerify = (this: unknown, ...args: never[]) => unknown;

/**
 * Wraps the app's verify function so passport-oauth2 can call it, and so that it may be
 * `async`: a returned promise's value becomes the user (`false`, `null` or `undefined` fails
 * the login; `true` is an error) and a rejection becomes the authentication error. Callback-style functions work as
 * before. The wrapper keeps the arity passport-oauth2 dispatches on.
 *
 * A function that declares `done` and returns a promise settles through whichever comes
 * first: a call to `done`, or a promise that resolves with a value (or rejects). One that
 * resolves with nothing is left to call `done` itself.
 *
 * A function from {@link withTokenParams} gets one object instead, params always included.
 */
export function adaptVerify(verify: unknown, passReqToCallback: boolean): (...args: unknown[]) => void {
  if (typeof verify !== 'function') {
    throw new TypeError('passport-bitbucket-auth: a verify function is required');
  }
  const fn = verify as AnyVerify;
  const object = takesObject(fn);
  // passport-oauth2 passes token params only to a function that declares them.
  const withParams = object || fn.length === (passReqToCallback ? 6 : 5);
  const declaresDone = !object && fn.length >= (passReqToCallback ? 5 : 4);

  function call(this: unknown, args: unknown[]): void {
    const done = args[args.length - 1] as VerifyCallback;
    let finished = false;
    const once: VerifyCallback = (err, user, info) => {
      if (finished) return;
      finished = true;
      done(err, user, info);
    };
    let result: unknown;
    try {
      if (object) {
        const [req, accessToken, refreshToken, params, profile] = passReqToCallback ? args : [undefined, ...args];
        result = Reflect.apply(fn, this, [{ accessToken, refreshToken, params, profile, req }]);
        // A plain value is the user, as a promise's would be.
        if (!isThenable(result)) result = Promise.resolve(result);
      } else {
        result = Reflect.apply(fn, this, [...args.slice(0, -1), once]);
      }
    } catch (error) {
      // passport-oauth2 turns a throw into the authentication error, unless done was called.
      if (finished) return;
      finished = true;
      throw error;
    }
    if (!isThenable(result)) return;
    Promise.resolve(result).then(
      (user) => {
        if (finished || (user === undefined && declaresDone)) return;
        if (user === true) {
          once(new TypeError('The verify function resolved with true: resolve with the user, or false to refuse the login'));
          return;
        }
        once(null, user === undefined || user === null ? false : (user as Express.User | false));
      },
      (reason: unknown) => {
        once(
          reason instanceof Error
            ? reason
            : new Error('The verify function rejected with a value that is not an Error', { cause: reason }),
        );
      },
    );
  }

  // passport-oauth2 reads `.length` to choose the arguments: the wrapper declares as many as
  // the app's function would receive.
  const wrapper = function (this: unknown, ...args: unknown[]): void {
    call.call(this, args);
  };
  const arity = (passReqToCallback ? 1 : 0) + (withParams ? 5 : 4);
  Object.defineProperty(wrapper, 'length', { value: arity });
  return wrapper;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
