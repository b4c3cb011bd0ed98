import type { Profile as PassportProfile } from 'passport';
import type { JsonObject } from '../core/json';
import type { VerifyFunctions } from '../core/types';
import type { StrategyOptionsBase } from './options';

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

/** A workspace the user can access, checked with `workspaces` or listed with `fetchWorkspaces`. */
export interface BitbucketWorkspace {
  slug: string;
  uuid: string;
  /** Always for a checked workspace; for a listed one, when Bitbucket included it. */
  name?: string;
  /** The user's highest role: only for workspaces that `workspaces` checked. */
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
  /** Confirmed addresses, the primary first; unconfirmed ones after them with `includeUnverifiedEmails`. */
  emails: BitbucketEmail[];
  /** With `fetchWorkspaces`, every workspace the user can access; with `workspaces` alone, the listed ones the user is in. */
  workspaces?: BitbucketWorkspace[];
  /** The body of `GET /2.0/user`, as received. */
  _raw: string;
  /** The parsed body of `GET /2.0/user`. */
  _json: JsonObject;
}

export type { RefreshedTokens, SkipUserProfile, TokenParams, TokenParamsVerify, VerifyArguments, VerifyCallback, VerifyResult } from '../core/types';

export type VerifyFunction = VerifyFunctions<Profile>['plain'];
/** Declare all five parameters (passport-oauth2 calls a function with four without `params`); prefer `withTokenParams()`. */
export type VerifyFunctionWithParams = VerifyFunctions<Profile>['params'];
export type VerifyFunctionWithRequest = VerifyFunctions<Profile>['request'];
/** Declare all six parameters (see {@link VerifyFunctionWithParams}). */
export type VerifyFunctionWithRequestAndParams = VerifyFunctions<Profile>['requestParams'];
/** A Cloud verify function made with `withTokenParams()`. */
export type VerifyFunctionWithTokenParams = VerifyFunctions<Profile>['tokenParams'];
/** A Cloud verify function made with `withTokenParams()`, with `passReqToCallback: true`. */
export type VerifyFunctionWithRequestAndTokenParams = VerifyFunctions<Profile>['requestTokenParams'];

export interface StrategyOptions extends StrategyOptionsBase { passReqToCallback?: false | undefined }

export interface StrategyOptionsWithRequest extends StrategyOptionsBase { passReqToCallback: true }
