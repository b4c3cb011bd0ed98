/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // index.ts only re-exports.
  collectCoverageFrom: ['lib/**/*.ts', '!lib/index.ts'],
  coverageReporters: ['text-summary', 'text'],
  // Per file for the strategies' code; lib/testing/ (the emulators) is reported, not gated.
  coverageThreshold: Object.fromEntries(
    ['core', 'cloud', 'datacenter'].map((dir) => [`./lib/${dir}/**/*.ts`, { lines: 95, branches: 90, functions: 95, statements: 95 }]),
  ),
  testTimeout: 20000,
  // No test reaches beyond this machine (see the file).
  setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/offline.ts'],
  // TEST_SHUFFLE_SEED=<n> runs the files in a shuffled order (see the file).
  testSequencer: '<rootDir>/__tests__/helpers/shuffle-sequencer.js',
  // The demo requires the package by name, as an app would; in tests that is the source.
  moduleNameMapper: {
    '^passport-bitbucket-auth$': '<rootDir>/lib/index.ts',
    '^passport-bitbucket-auth/testing$': '<rootDir>/lib/testing/index.ts',
  },
};
