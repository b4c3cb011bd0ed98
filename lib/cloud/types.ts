import type { Request } from 'express';
import type { Agent, OutgoingHttpHeaders } from 'node:http';
import type { Profile as PassportProfile } from 'passport';
import type { StateStore } from 'passport-oauth2';
import type { JsonObject } from '../core/json';

/** One of the user's email addresses, as the strategy reports it. */
export interface BitbucketEmail {
  value: string;
  /** Bitbucket's primary address. */
  primary: boolean;
  /** Bitbucket has confirmed the user controls this address. */
  verified: boolean;
}

/** A role in a workspace, highest first: `owner`, `create-project`, `member`, `collaborator` (deprecated by Bitbucket). */
export type WorkspaceRole = 'owner' | 'create-project' | 'member' | 'collaborator' | (string & {});

/**
 * A workspace the user can access. Which fields are there depends on how it was learnt:
 * - checked with `workspaces` (`GET /2.0/user/workspaces/{slug}/permission`): `slug`, `uuid`,
 *   `name`, `permission` (the user's highest role) and `administrator` (the role is `owner`);
 * - listed with `fetchWorkspaces` (`GET /2.0/user/workspaces`): `slug`, `uuid` and
 *   `administrator`; `name` only when Bitbucket included it; no `permission`, except for the
 *   workspaces that `workspaces` also checked.
 */
export interface BitbucketWorkspace {
  slug: string;
  uuid: string;
  name?: string;
  permission?: WorkspaceRole;
  /** The user administers the workspace (its `owner` role). */
  administrator: boolean;
}

/** The signed-in Bitbucket user, in Passport's profile shape. */
export interface Profile extends PassportProfile {
  provider: 'bitbucket';
  /** Bitbucket's `uuid`, braces kept, e.g. `{0b7a1c3e-…}`. Stable: use it (or `accountId`) as the key. */
  id: string;
  /** The Atlassian account id: Atlassian's recommended primary key across its products. */
  accountId: string | undefined;
  /** Deprecated by Bitbucket since 2019 and may be absent: never use it as a key. */
  username?: string;
  /** The user's nickname (not unique). */
  nickname: string | undefined;
  displayName: string;
  /** The user's page on bitbucket.org (`links.html.href`). */
  profileUrl: string | undefined;
  /** The avatar (`links.avatar.href`), when Bitbucket gave one. */
  photos: Array<{ value: string }>;
  /**
   * Confirmed addresses, the confirmed primary first. Unconfirmed addresses appear only with
   * `includeUnverifiedEmails`, after the confirmed ones. Empty when the consumer lacks the
   * Account: Email permission or `skipEmails` is set.
   */
  emails: BitbucketEmail[];
  /**
   * The workspaces the user can access, when `workspaces` or `fetchWorkspaces` is set. With
   * `workspaces` alone: only those of the listed workspaces the user is in.
   */
  workspaces?: BitbucketWorkspace[];
  /** The body of `GET /2.0/user`, as received. */
  _raw: string;
  /** The parsed body of `GET /2.0/user`. */
  _json: JsonObject;
}

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

export type { VerifyCallback, VerifyResult } from '../core/verify';
import type { VerifyCallback, VerifyResult } from '../core/verify';

/** A verify function taking `args` then passport's `done`; it may return a promise instead. */
type Verify<Args extends unknown[]> = (...args: [...Args, done: VerifyCallback]) => void | PromiseLike<VerifyResult>;

export type VerifyFunction = Verify<[accessToken: string, refreshToken: string, profile: Profile]>;
export type VerifyFunctionWithParams = Verify<[accessToken: string, refreshToken: string, params: TokenParams, profile: Profile]>;
export type VerifyFunctionWithRequest = Verify<[req: Request, accessToken: string, refreshToken: string, profile: Profile]>;
export type VerifyFunctionWithRequestAndParams = Verify<
  [req: Request, accessToken: string, refreshToken: string, params: TokenParams, profile: Profile]
>;

/** Decides per login whether to skip the profile requests. */
export type SkipUserProfile =
  | boolean
  | ((accessToken: string) => boolean)
  | ((accessToken: string, done: (err: Error | null, skip?: boolean) => void) => void);

export interface StrategyOptionsBase {
  /** The OAuth consumer's **Key** (Workspace settings → OAuth consumers). Required. */
  clientID: string;
  /** The OAuth consumer's **Secret**. Required. */
  clientSecret: string;
  /** Where Bitbucket sends the user back. Must start with the consumer's Callback URL. May be relative. */
  callbackURL?: string | undefined;
  authorizationURL?: string | undefined;
  tokenURL?: string | undefined;
  userProfileURL?: string | undefined;
  userEmailsURL?: string | undefined;
  /**
   * Base of the workspace endpoints, default `https://api.bitbucket.org/2.0/user/workspaces`:
   * the listing itself (`fetchWorkspaces`), and `<base>/<slug>/permission` (`workspaces`).
   */
  userWorkspacesURL?: string | undefined;
  /**
   * Only members of these workspaces (slugs) may sign in; anyone else is a failed login that
   * never reaches the verify function. Fills `profile.workspaces`.
   */
  workspaces?: readonly string[] | undefined;
  /**
   * With `workspaces`: the lowest role that may sign in, of `member` < `create-project` <
   * `owner`. Default `member` (which the deprecated `collaborator` role also meets).
   */
  minimumWorkspaceRole?: 'member' | 'create-project' | 'owner' | undefined;
  /** Fill `profile.workspaces` with every workspace the user can access. Default `false`. */
  fetchWorkspaces?: boolean | undefined;
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
  /** Do not request `/2.0/user/emails`; `profile.emails` is then `[]`. Default `false`. */
  skipEmails?: boolean | undefined;
  /** Also report unconfirmed addresses (marked `verified: false`). Default `false`. */
  includeUnverifiedEmails?: boolean | undefined;
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

export interface StrategyOptions extends StrategyOptionsBase {
  passReqToCallback?: false | undefined;
}

export interface StrategyOptionsWithRequest extends StrategyOptionsBase {
  passReqToCallback: true;
}
