import type { Request } from 'express';
import type { Agent, OutgoingHttpHeaders } from 'node:http';
import type { StateStore } from 'passport-oauth2';

/** What the token endpoint answered, less the tokens themselves; `scope` is filled from `scopes` when needed. */
export interface TokenParams { scope?: string; scopes?: string; expires_in?: number; token_type?: string; [key: string]: unknown }

/** What {@link Strategy.refresh} resolves with. */
export interface RefreshedTokens {
  accessToken: string;
  /** Store it **now**: Bitbucket rotates refresh tokens (the one passed in, should Bitbucket send none). */
  refreshToken: string;
  /** Seconds the access token lives (`expires_in`), when Bitbucket said. */
  expiresIn: number | undefined;
  expiresAt: Date | undefined;
  /** The scopes granted (`scope`, or `scopes` before 2026). */
  scope: string | undefined;
  /** The whole token response, less the tokens. */
  params: TokenParams;
}

/** Called by verify functions, as in every Passport strategy. */
export type VerifyCallback = (err?: Error | null | unknown, user?: Express.User | false, info?: object) => void;

/** The user, or `false` (`null`, nothing) to refuse the login; `true` (allowed for `async () => false`) is an error at run time. */
export type VerifyResult = Express.User | boolean | null | undefined | void;

type Verify<Args extends unknown[]> = (...args: [...Args, done: VerifyCallback]) => void | PromiseLike<VerifyResult>;

/** A product's verify functions for its profile `P`, by the parameters they declare; the product names each. */
export interface VerifyFunctions<P> {
  plain: Verify<[accessToken: string, refreshToken: string, profile: P]>;
  params: Verify<[accessToken: string, refreshToken: string, params: TokenParams, profile: P]>;
  request: Verify<[req: Request, accessToken: string, refreshToken: string, profile: P]>;
  requestParams: Verify<[req: Request, accessToken: string, refreshToken: string, params: TokenParams, profile: P]>;
  tokenParams: TokenParamsVerify<P, undefined>;
  requestTokenParams: TokenParamsVerify<P, Request>;
}

/** The one argument of a `withTokenParams()` verify function: `P` is the profile, `Req` the request (with `passReqToCallback: true`). */
export interface VerifyArguments<P, Req = undefined> {
  accessToken: string;
  /** Store it: Bitbucket Cloud rotates refresh tokens (docs/refreshing-tokens.md). */
  refreshToken: string;
  params: TokenParams;
  profile: P;
  req: Req;
}

declare const tokenParamsVerify: unique symbol;

/** A verify function made with `withTokenParams()`: it takes one object, {@link VerifyArguments}. */
export type TokenParamsVerify<P, Req> = ((args: VerifyArguments<P, Req>) => VerifyResult | PromiseLike<VerifyResult>)
  & { readonly [tokenParamsVerify]: [P, Req] };

/** Decides per login whether to skip the profile requests. */
export type SkipUserProfile = boolean | ((accessToken: string) => boolean) | ((accessToken: string, done: (err: Error | null, skip?: boolean) => void) => void);

/** The options both strategies take. */
export interface CommonStrategyOptions {
  /** The OAuth consumer's **Key** (Workspace settings → OAuth consumers). Required. */
  clientID: string;
  /** The OAuth consumer's **Secret**. Required. */
  clientSecret: string;
  /** Where Bitbucket sends the user back. Must start with the consumer's Callback URL. May be relative. */
  callbackURL?: string | undefined;
  /** Other callback URLs a login may name per request (`authenticate(name, { callbackURL })`); any other fails (400). */
  callbackURLs?: readonly string[] | undefined;
  authorizationURL?: string | undefined;
  tokenURL?: string | undefined;
  /** Guard the login with a `state` value kept in the session (CSRF protection). Default `true`. */
  state?: boolean | undefined;
  /** PKCE: `S256` by default wherever the verifier can be kept (session state, or a 5-argument `store()`); `false` turns it off. */
  pkce?: boolean | 'S256' | 'plain' | undefined;
  /** A custom state store (e.g. for apps without sessions). */
  store?: StateStore | undefined;
  /** Session key for the state; default `oauth2:<authorization host>`. */
  sessionKey?: string | undefined;
  skipUserProfile?: SkipUserProfile | undefined;
  /** Milliseconds for each request to Bitbucket (default 10000); the whole login fails within 3 × `timeout`. */
  timeout?: number | undefined;
  /** Retries of each profile-stage GET after a 5xx, reset or refused connection, 0 to 5 (default 2); never the token exchange. */
  retries?: number | undefined;
  /** An agent for every request to Bitbucket, instead of the strategy's own keep-alive pool. */
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
