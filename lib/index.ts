export { Strategy, Strategy as BitbucketStrategy } from './cloud/strategy';
export { BitbucketDataCenterStrategy } from './datacenter/strategy';
export { withTokenParams } from './core/verify';
export { BitbucketError, BitbucketAPIError, BitbucketEndpointRemovedError, BitbucketResponseError, BitbucketTimeoutError } from './core/errors';
export { BitbucketNetworkError, type BitbucketErrorCode, type BitbucketOAuthErrorData } from './core/errors';
// passport-oauth2's errors, which logins also end with: one import tells every outcome apart.
export { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2';
export type * from './cloud/types';
export type * from './datacenter/types';
