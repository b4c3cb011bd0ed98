// An ES module app: named imports from the CommonJS package.
import assert from 'node:assert/strict';
import { Strategy, BitbucketStrategy, TokenError } from 'passport-bitbucket-auth';
import { startBitbucketEmulator } from 'passport-bitbucket-auth/testing';
import * as whole from 'passport-bitbucket-auth';

assert.equal(BitbucketStrategy, Strategy);
assert.equal(typeof TokenError, 'function');
assert.equal(typeof whole.Strategy, 'function');
const strategy = new Strategy({ clientID: 'k', clientSecret: 's' }, async () => false);
assert.equal(strategy.name, 'bitbucket');
const bitbucket = await startBitbucketEmulator();
await bitbucket.close();
console.log('esm: ok');
