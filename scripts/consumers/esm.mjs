// An ES module app: named imports from the CommonJS package.
import assert from 'node:assert/strict';
import { Strategy, BitbucketStrategy, BitbucketDataCenterStrategy, TokenError } from 'passport-bitbucket-auth';
import { startBitbucketEmulator, startBitbucketDataCenterEmulator } from 'passport-bitbucket-auth/testing';
import * as whole from 'passport-bitbucket-auth';

assert.equal(BitbucketStrategy, Strategy);
assert.equal(typeof TokenError, 'function');
assert.equal(typeof whole.Strategy, 'function');
const strategy = new Strategy({ clientID: 'k', clientSecret: 's' }, async () => false);
assert.equal(strategy.name, 'bitbucket');
const bitbucket = await startBitbucketEmulator();
await bitbucket.close();
const dataCenter = await startBitbucketDataCenterEmulator();
assert.equal(new BitbucketDataCenterStrategy({ ...dataCenter.strategyOptions }, async () => false).name, 'bitbucket-datacenter');
await dataCenter.close();
console.log('esm: ok');
