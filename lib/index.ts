export { Strategy, Strategy as BitbucketStrategy, MAX_EMAIL_PAGES } from './strategy';
export {
  BitbucketError,
  BitbucketAPIError,
  BitbucketEndpointRemovedError,
  BitbucketResponseError,
  BitbucketTimeoutError,
  BitbucketNetworkError,
  type BitbucketErrorCode,
  type BitbucketOAuthErrorData,
} from './errors';
export { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2';
export { AUTHORIZATION_URL, TOKEN_URL, USER_PROFILE_URL, USER_EMAILS_URL, USER_WORKSPACES_URL } from './options';
export { DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES } from './oauth2';
export { parseProfile } from './profile';
export { VERSION } from './version';
export type {
  BitbucketEmail,
  BitbucketWorkspace,
  Profile,
  RefreshedTokens,
  SkipUserProfile,
  StrategyOptions,
  StrategyOptionsBase,
  StrategyOptionsWithRequest,
  TokenParams,
  VerifyCallback,
  VerifyFunction,
  VerifyFunctionWithParams,
  VerifyFunctionWithRequest,
  VerifyFunctionWithRequestAndParams,
  VerifyResult,
  WorkspaceRole,
} from './types';
export type { JsonObject } from './json';
