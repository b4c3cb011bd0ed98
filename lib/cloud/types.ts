import type { Request } from 'express';
import type { Profile as PassportProfile } from 'passport';
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

export type { RefreshedTokens, SkipUserProfile, TokenParams, VerifyCallback, VerifyResult } from '../core/types';
export type { TokenParamsVerify, VerifyArguments } from '../core/types';
import type { CommonStrategyOptions, TokenParams, TokenParamsVerify, Verify } from '../core/types';

export type VerifyFunction = Verify<[accessToken: string, refreshToken: string, profile: Profile]>;
/**
 * `(accessToken, refreshToken, params, profile, done)`: declare all five. TypeScript accepts a
 * function with fewer here, but passport-oauth2 counts the declared parameters, and calls one
 * with four as `(accessToken, refreshToken, profile, done)`. To get `params`, prefer
 * `withTokenParams(({ accessToken, refreshToken, params, profile }) => user)`.
 */
export type VerifyFunctionWithParams = Verify<[accessToken: string, refreshToken: string, params: TokenParams, profile: Profile]>;
export type VerifyFunctionWithRequest = Verify<[req: Request, accessToken: string, refreshToken: string, profile: Profile]>;
/** `(req, accessToken, refreshToken, params, profile, done)`: declare all six (see {@link VerifyFunctionWithParams}). */
export type VerifyFunctionWithRequestAndParams = Verify<
  [req: Request, accessToken: string, refreshToken: string, params: TokenParams, profile: Profile]
>;
/** A Cloud verify function made with `withTokenParams()`. */
export type VerifyFunctionWithTokenParams = TokenParamsVerify<Profile, undefined>;
/** A Cloud verify function made with `withTokenParams()`, with `passReqToCallback: true`. */
export type VerifyFunctionWithRequestAndTokenParams = TokenParamsVerify<Profile, Request>;

export interface StrategyOptionsBase extends CommonStrategyOptions {
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
  /** Do not request `/2.0/user/emails`; `profile.emails` is then `[]`. Default `false`. */
  skipEmails?: boolean | undefined;
  /** Also report unconfirmed addresses (marked `verified: false`). Default `false`. */
  includeUnverifiedEmails?: boolean | undefined;
}

export interface StrategyOptions extends StrategyOptionsBase {
  passReqToCallback?: false | undefined;
}

export interface StrategyOptionsWithRequest extends StrategyOptionsBase {
  passReqToCallback: true;
}
