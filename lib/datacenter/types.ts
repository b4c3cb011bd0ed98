import type { Profile as PassportProfile } from 'passport';
import type { JsonObject } from '../core/json';
import type { CommonStrategyOptions, VerifyFunctions } from '../core/types';

/** The user who signed in to Bitbucket Data Center, in Passport's profile shape. */
export interface DataCenterProfile extends PassportProfile {
  provider: 'bitbucket-datacenter';
  /** The user's numeric id, as a string: stable across renames. Use it as the key. */
  id: string;
  /** The username (`name`); it can be renamed. */
  username: string;
  /** The user's slug, for REST URLs; not always the username. */
  slug: string;
  displayName: string;
  /** The user's page on the instance (`links.self[0].href`). */
  profileUrl: string | undefined;
  /** The avatar, made absolute, when the instance gave one. */
  photos: Array<{ value: string }>;
  /** The user's one address (`emailAddress`), or none; `verified` only with `trustEmail` (Data Center does not say). */
  emails: Array<{ value: string; primary: true; verified: boolean }>;
  /** The body of the user request, as received. */
  _raw: string;
  /** The parsed body of the user request. */
  _json: JsonObject;
}

export type DataCenterVerifyFunction = VerifyFunctions<DataCenterProfile>['plain'];
/** Declare all five parameters (a function with four is called without `params`); prefer `withTokenParams()`. */
export type DataCenterVerifyFunctionWithParams = VerifyFunctions<DataCenterProfile>['params'];
export type DataCenterVerifyFunctionWithRequest = VerifyFunctions<DataCenterProfile>['request'];
/** Declare all six parameters; prefer `withTokenParams()`. */
export type DataCenterVerifyFunctionWithRequestAndParams = VerifyFunctions<DataCenterProfile>['requestParams'];
/** A Data Center verify function made with `withTokenParams()`. */
export type DataCenterVerifyFunctionWithTokenParams = VerifyFunctions<DataCenterProfile>['tokenParams'];
/** A Data Center verify function made with `withTokenParams()`, with `passReqToCallback: true`. */
export type DataCenterVerifyFunctionWithRequestAndTokenParams = VerifyFunctions<DataCenterProfile>['requestTokenParams'];

interface DataCenterStrategyOptionsBase extends Omit<CommonStrategyOptions, 'authorizationURL' | 'tokenURL'> {
  /** The instance's base URL, context path included (`https://example.com/bitbucket`). Required. */
  baseURL: string;
  /** The incoming application link's **Client ID** (Administration → Application Links). Required. */
  clientID: string;
  /** The incoming application link's **Client secret**. Required. */
  clientSecret: string;
  /** Allow an `http:` base URL, for development instances that skip Data Center's own HTTPS requirement. Default `false`. */
  allowInsecureHTTP?: boolean | undefined;
  /** The avatar size to ask for, in pixels, 16 to 2048. Default 64. */
  avatarSize?: number | undefined;
  /** Mark the address `verified: true`: your instance's directory manages addresses. Default `false`. */
  trustEmail?: boolean | undefined;
  /** Only users who can reach one of these projects (keys) or repositories may sign in. */
  projects?: readonly string[] | undefined;
  /** Only users who can reach one of these repositories (`KEY/slug`) or projects may sign in. */
  repositories?: readonly string[] | undefined;
}

export interface DataCenterStrategyOptions extends DataCenterStrategyOptionsBase { passReqToCallback?: false | undefined }

export interface DataCenterStrategyOptionsWithRequest extends DataCenterStrategyOptionsBase { passReqToCallback: true }
