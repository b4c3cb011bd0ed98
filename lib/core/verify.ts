import type { TokenParamsVerify, VerifyArguments, VerifyCallback, VerifyResult } from './types';

// A global symbol, so that a function marked by one copy of the package is known to another.
const TOKEN_PARAMS = Symbol.for('passport-bitbucket-auth.withTokenParams');

/**
 * Marks a verify function that takes **one object**, {@link VerifyArguments}, and returns or resolves with the user (`false`
 * refuses): the token `params` without counting parameters. Declared apart from the constructor, type its argument
 * `VerifyArguments<Profile>` (`VerifyArguments<Profile, Request>` with `passReqToCallback: true`).
 */
export function withTokenParams<P = unknown, Req = undefined>(verify: (args: VerifyArguments<P, Req>) => VerifyResult | PromiseLike<VerifyResult>) {
  if (typeof verify !== 'function') throw new TypeError('passport-bitbucket-auth: withTokenParams() takes a verify function');
  const marked = (args: VerifyArguments<P, Req>): VerifyResult | PromiseLike<VerifyResult> => verify(args);
  Object.defineProperty(marked, TOKEN_PARAMS, { value: true });
  return marked as TokenParamsVerify<P, Req>;
}

/**
 * Wraps the app's verify function for passport-oauth2, so that it may be `async`: a promise's value is the user (`false`,
 * `null`, `undefined` refuse; `true` is an error), a rejection the error. A function that declares `done` settles by
 * whichever comes first, `done` or a promise's value (or rejection); one that resolves with nothing is left to call `done`.
 */
export function adaptVerify(verify: unknown, passReqToCallback: boolean): (...args: unknown[]) => void {
  if (typeof verify !== 'function') throw new TypeError('passport-bitbucket-auth: a verify function is required');
  const object = TOKEN_PARAMS in verify;
  // passport-oauth2 passes token params only to a function that declares them.
  const withParams = object || verify.length === (passReqToCallback ? 6 : 5);
  const declaresDone = !object && verify.length >= (passReqToCallback ? 5 : 4);

  const wrapper = function (this: unknown, ...args: unknown[]): void {
    const done = args[args.length - 1] as VerifyCallback;
    let finished = false;
    const once: VerifyCallback = (err, user, info) => {
      if (finished) return;
      finished = true;
      done(err, user, info);
    };
    const [req, accessToken, refreshToken, params, profile] = passReqToCallback ? args : [undefined, ...args];
    let result: unknown;
    try {
      result = Reflect.apply(verify, this, object ? [{ accessToken, refreshToken, params, profile, req }] : [...args.slice(0, -1), once]);
    } catch (error) {
      // passport-oauth2 turns a throw into the authentication error, unless done was called.
      if (finished) return;
      finished = true;
      throw error;
    }
    // A plain value from a `withTokenParams()` function is the user, as a promise's would be.
    if (!object && typeof (result as { then?: unknown } | null | undefined)?.then !== 'function') return;
    Promise.resolve(result).then(
      (user) => {
        if (finished || (user === undefined && declaresDone)) return;
        if (user === true) once(new TypeError('The verify function resolved with true: resolve with the user, or false to refuse the login'));
        else once(null, (user ?? false) as Express.User | false);
      },
      (reason) => once(reason instanceof Error ? reason : new Error('The verify function rejected with a value that is not an Error', { cause: reason })),
    );
  };
  // passport-oauth2 reads `.length` to choose the arguments: the wrapper declares as many as the app's function receives.
  Object.defineProperty(wrapper, 'length', { value: (passReqToCallback ? 1 : 0) + (withParams ? 5 : 4) });
  return wrapper;
}
