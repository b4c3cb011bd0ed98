import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as api from '../lib';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as Record<string, unknown>;

describe('package', () => {
  it('reports the version of package.json', () => {
    expect(api.VERSION).toBe(pkg['version']);
  });

  it('has named exports only: the strategy under both names, the errors and the defaults', () => {
    expect(api).not.toHaveProperty('default');
    expect(api.BitbucketStrategy).toBe(api.Strategy);
    for (const name of ['BitbucketError', 'BitbucketAPIError', 'BitbucketResponseError', 'BitbucketTimeoutError', 'BitbucketNetworkError', 'TokenError', 'AuthorizationError', 'InternalOAuthError']) {
      expect(typeof (api as Record<string, unknown>)[name]).toBe('function');
    }
    expect(api.AUTHORIZATION_URL).toBe('https://bitbucket.org/site/oauth2/authorize');
    expect(api.TOKEN_URL).toBe('https://bitbucket.org/site/oauth2/access_token');
    expect(api.USER_PROFILE_URL).toBe('https://api.bitbucket.org/2.0/user');
    expect(api.USER_EMAILS_URL).toBe('https://api.bitbucket.org/2.0/user/emails');
    expect(api.DEFAULT_TIMEOUT).toBe(10_000);
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
