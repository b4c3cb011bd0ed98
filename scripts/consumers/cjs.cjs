'use strict';
// A CommonJS app: require() the package and its testing entry point.
const assert = require('node:assert/strict');
const passport = require('passport');
const { Strategy, BitbucketStrategy, BitbucketDataCenterStrategy, BitbucketAPIError, InternalOAuthError } = require('passport-bitbucket-auth');
const { startBitbucketEmulator, startBitbucketDataCenterEmulator } = require('passport-bitbucket-auth/testing');

assert.equal(BitbucketStrategy, Strategy);
const strategy = new Strategy({ clientID: 'k', clientSecret: 's' }, (at, rt, profile, done) => done(null, profile));
passport.use(strategy);
assert.equal(strategy.name, 'bitbucket');
assert.ok(new BitbucketAPIError('x', { status: 500, body: '' }) instanceof InternalOAuthError);
assert.equal(require('passport-bitbucket-auth').default, undefined);

const dc = new BitbucketDataCenterStrategy({ baseURL: 'https://bitbucket.example.com', clientID: 'k', clientSecret: 's' }, (at, rt, profile, done) => done(null, profile));
passport.use(dc);
assert.equal(dc.name, 'bitbucket-datacenter');

startBitbucketEmulator().then(async (bitbucket) => {
  const response = await fetch(bitbucket.userProfileURL);
  assert.equal(response.status, 401);
  await bitbucket.close();
  const dataCenter = await startBitbucketDataCenterEmulator();
  assert.equal((await fetch(`${dataCenter.baseURL}/rest/api/latest/users/jdoe`)).status, 401);
  await dataCenter.close();
  strategy.close();
  dc.close();
  console.log('cjs: ok');
});
