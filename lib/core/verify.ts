import type { TokenParamsVerify, VerifyArguments, VerifyCallback, VerifyResult } from './types';

const TOKEN_PARAMS = Symbol.for('passport-bitbucket-auth.withTokenParams'); // global: a copy of the package knows what another marked

/** Marks a verify function of one object, `VerifyArguments<Profile>` (`<Profile, Request>` with passReqToCallback): it returns the user or false. */
export function withTokenParams<P = unknown, Req = undefined>(verify: (args: VerifyArguments<P, Req>) => VerifyResult | PromiseLike<VerifyResult>) {
  if (typeof verify !== 'function') throw new TypeError('passport-bitbucket-auth: withTokenParams() takes a verify function');
  const marked = (args: VerifyArguments<P, Req>): VerifyResult | PromiseLike<VerifyResult> => verify(args);
  return Object.defineProperty(marked, TOKEN_PARAMS, { value: true }) as TokenParamsVerify<P, Req>;
}

/** Lets the app's verify function be `async` (its value the user, `true` an error); with `done` declared, the first of the two settles. */
export function adaptVerify(verify: unknown, passReqToCallback: boolean): (...args: unknown[]) => void {
  if (typeof verify !== 'function') throw new TypeError('passport-bitbucket-auth: a verify function is required');
  const object = TOKEN_PARAMS in verify;
  // NOTE: passport-oauth2 passes token params only to a function that declares them.
  const withParams = object || verify.length === (passReqToCallback ? 6 : 5);
  const declaresDone = !object && verify.length >= (passReqToCallback ? 5 : 4);

  const wrapper = function (this: unknown, ...args: unknown[]): void {
    const done = args[args.length - 1] as VerifyCallback;
    let finished = false;
    const once: VerifyCallback = (err, user, info) => {
      if (finished) return;
      finished = true;
      // `true` is no user, by `done` as by a promise: an error, never a login.
      if (!err && (user as unknown) === true) err = new TypeError('The verify function gave true: give the user, or false to refuse the login');
      done(err, user, info);
    };
    const [req, accessToken, refreshToken, params, profile] = passReqToCallback ? args : [undefined, ...args];
    let result: unknown;
    try {
      result = Reflect.apply(verify, this, object ? [{ accessToken, refreshToken, params, profile, req }] : [...args.slice(0, -1), once]);
    } catch (error) {
      // NOTE: passport-oauth2 makes a throw the authentication error, unless done was called.
      if (finished) return;
      finished = true;
      throw error;
    }
    // Without `done` declared, a plain value is the user, as a promise's would be; with it, `done` settles. One that declares no `done` may
    // still call it (`arguments`, `util.callbackify`, a default value): if it returns nothing, `done` is waited for, as Passport waits.
    if ((declaresDone || (!object && result === undefined)) && typeof (result as { then?: unknown } | null | undefined)?.then !== 'function') return;
    Promise.resolve(result).then(
      (user) => {
        if (finished || (user === undefined && declaresDone)) return;
        once(null, (user ?? false) as Express.User | false);
      },
      (reason) => once(reason instanceof Error ? reason : new Error('The verify function rejected with a value that is not an Error', { cause: reason })),
    );
  };
  // NOTE: passport-oauth2 reads `.length` to choose the arguments: the wrapper declares those the app's function receives.
  Object.defineProperty(wrapper, 'length', { value: (passReqToCallback ? 1 : 0) + (withParams ? 5 : 4) });
  return wrapper;
}
