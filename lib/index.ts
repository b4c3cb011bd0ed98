export { Strategy, Strategy as BitbucketStrategy } from './cloud/strategy';
export { BitbucketDataCenterStrategy } from './datacenter/strategy';
export { withTokenParams } from './core/verify';
export { BitbucketError, BitbucketAPIError, BitbucketEndpointRemovedError, BitbucketResponseError, BitbucketTimeoutError } from './core/errors';
export { BitbucketNetworkError, type BitbucketErrorCode, type BitbucketOAuthErrorData } from './core/errors';
export { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2'; // logins end with these too: one import tells all apart
export type * from './cloud/types';
export type * from './datacenter/types';
