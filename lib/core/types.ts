import type { Agent, OutgoingHttpHeaders } from 'node:http';
import type { StateStore } from 'passport-oauth2';

/** What the token endpoint answered, less the tokens themselves; `scope` is filled from `scopes` when needed. */
export interface TokenParams {
  scope?: string;
  scopes?: string;
  expires_in?: number;
  token_type?: string;
  [key: string]: unknown;
}

/** What {@link Strategy.refresh} resolves with. */
export interface RefreshedTokens {
  accessToken: string;
  /**
   * The refresh token to store **now**: Bitbucket rotates refresh tokens, and the one you
   * just used stops working minutes later. (Should Bitbucket ever answer without one, this is
   * the token you passed in.)
   */
  refreshToken: string;
  /** Seconds the access token lives (`expires_in`), when Bitbucket said. */
  expiresIn: number | undefined;
  /** When the access token expires, computed from `expiresIn`. */
  expiresAt: Date | undefined;
  /** The scopes granted (`scope`, or `scopes` before 2026). */
  scope: string | undefined;
  /** The whole token response, less the tokens. */
  params: TokenParams;
}

/** Called by verify functions, as in every Passport strategy. */
export type VerifyCallback = (err?: Error | null | unknown, user?: Express.User | false, info?: object) => void;

/**
 * What an async verify function may resolve with: the user, or `false` (also `null` or
 * nothing) to refuse the login. `boolean` is accepted because TypeScript infers
 * `Promise<boolean>` for `async () => false`; resolving with `true` is an error at run time,
 * as it names no user.
 */
export type VerifyResult = Express.User | boolean | null | undefined | void;

/** A verify function taking `args` then passport's `done`; it may return a promise instead. */
export type Verify<Args extends unknown[]> = (...args: [...Args, done: VerifyCallback]) => void | PromiseLike<VerifyResult>;

/**
 * The one argument of a verify function made with `withTokenParams()`. `P` is the product's
 * profile (`Profile` or `DataCenterProfile`); `Req` is `Request` with `passReqToCallback:
 * true`, `undefined` otherwise.
 */
export interface VerifyArguments<P, Req = undefined> {
  accessToken: string;
  /** Store it: Bitbucket Cloud rotates refresh tokens (docs/refreshing-tokens.md). */
  refreshToken: string;
  /** The token response less the tokens: `expires_in`, `scope`, `token_type`… */
  params: TokenParams;
  profile: P;
  /** The request, with `passReqToCallback: true`; otherwise `undefined`. */
  req: Req;
}

declare const tokenParamsVerify: unique symbol;

/** A verify function made with `withTokenParams()`: it takes one object, {@link VerifyArguments}. */
export type TokenParamsVerify<P, Req> = ((args: VerifyArguments<P, Req>) => VerifyResult | PromiseLike<VerifyResult>) & {
  readonly [tokenParamsVerify]: [P, Req];
};

/** Decides per login whether to skip the profile requests. */
export type SkipUserProfile =
  | boolean
  | ((accessToken: string) => boolean)
  | ((accessToken: string, done: (err: Error | null, skip?: boolean) => void) => void);

/** The options both strategies take. */
export interface CommonStrategyOptions {
  /** The OAuth consumer's **Key** (Workspace settings → OAuth consumers). Required. */
  clientID: string;
  /** The OAuth consumer's **Secret**. Required. */
  clientSecret: string;
  /** Where Bitbucket sends the user back. Must start with the consumer's Callback URL. May be relative. */
  callbackURL?: string | undefined;
  /**
   * The other callback URLs a login may name with `passport.authenticate(name, { callbackURL })`,
   * e.g. one per custom domain. A per-request `callbackURL` that is neither this list's nor
   * `callbackURL` fails the login (400) before any redirect.
   */
  callbackURLs?: readonly string[] | undefined;
  authorizationURL?: string | undefined;
  tokenURL?: string | undefined;
  /** Guard the login with a `state` value kept in the session (CSRF protection). Default `true`. */
  state?: boolean | undefined;
  /**
   * PKCE (RFC 7636), on by default with `S256` wherever the verifier can be kept: the session
   * (`state`, the default) or a `store` whose `store()` takes the verifier. `false` turns it
   * off; with `state: false` and no store it is off unless asked for.
   */
  pkce?: boolean | 'S256' | 'plain' | undefined;
  /** A custom state store (e.g. for apps without sessions). */
  store?: StateStore | undefined;
  /** Session key for the state; default `oauth2:<authorization host>`. */
  sessionKey?: string | undefined;
  skipUserProfile?: SkipUserProfile | undefined;
  /**
   * Milliseconds allowed for each request to Bitbucket, token exchange included. Default
   * 10000. The whole login (token exchange and profile requests, retries included) fails
   * within 3 × `timeout` at most.
   */
  timeout?: number | undefined;
  /**
   * How often each GET of the profile stage is tried again after a 5xx, a reset or a refused
   * connection (never after a 4xx, and never the token exchange), from 0 (off) to 5. Default 2.
   */
  retries?: number | undefined;
  /**
   * An agent for every request to Bitbucket, instead of the strategy's own keep-alive pool
   * (which keeps idle connections 4 minutes and opens the API connections while the code is
   * exchanged). With your own agent, nothing is opened ahead.
   */
  agent?: Agent | undefined;
  /** User-Agent for every request. Default `passport-bitbucket-auth/<version>`. */
  userAgent?: string | undefined;
  /** Extra headers sent with every request to Bitbucket. */
  customHeaders?: OutgoingHttpHeaders | undefined;
  /** Trust `X-Forwarded-Proto`/`X-Forwarded-Host` when resolving a relative `callbackURL`. */
  proxy?: boolean | undefined;
  /** Sent on the authorize request only when given. Bitbucket takes scopes from the consumer's permissions. */
  scope?: string | string[] | undefined;
  scopeSeparator?: string | undefined;
}
