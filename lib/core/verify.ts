import type { VerifyCallback } from './types';

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
 */
export function adaptVerify(verify: unknown, passReqToCallback: boolean): (...args: unknown[]) => void {
  if (typeof verify !== 'function') {
    throw new TypeError('passport-bitbucket-auth: a verify function is required');
  }
  const fn = verify as AnyVerify;
  // passport-oauth2 passes token params only to a function that declares them.
  const withParams = fn.length === (passReqToCallback ? 6 : 5);
  const declaresDone = fn.length >= (passReqToCallback ? 5 : 4);

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
      result = Reflect.apply(fn, this, [...args.slice(0, -1), once]);
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
