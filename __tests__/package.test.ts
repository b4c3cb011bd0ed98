import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as api from '../lib';
import { VERSION } from '../lib/core/options';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as Record<string, unknown>;

describe('package', () => {
  it('sends the version of package.json in its User-Agent', () => {
    expect(VERSION).toBe(pkg['version']);
  });

  it('exports exactly its public surface: the Cloud strategy under both names, the Data Center strategy, the error classes and withTokenParams', () => {
    // Every published name is a promise: a new one is a decision, made here on purpose.
    expect(Object.keys(api).sort()).toEqual([
      'AuthorizationError',
      'BitbucketAPIError',
      'BitbucketDataCenterStrategy',
      'BitbucketEndpointRemovedError',
      'BitbucketError',
      'BitbucketNetworkError',
      'BitbucketResponseError',
      'BitbucketStrategy',
      'BitbucketTimeoutError',
      'InternalOAuthError',
      'Strategy',
      'TokenError',
      'withTokenParams',
    ]);
    expect(api.BitbucketStrategy).toBe(api.Strategy);
  });

  it('depends at run time only on passport-oauth2, its client and the types its declarations need', () => {
    expect(Object.keys(pkg['dependencies'] as object).sort()).toEqual([
      '@types/express',
      '@types/oauth',
      '@types/passport',
      '@types/passport-oauth2',
      'oauth',
      'passport-oauth2',
    ]);
  });
});
