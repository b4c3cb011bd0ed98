/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // index.ts only re-exports.
  collectCoverageFrom: ['lib/**/*.ts', '!lib/index.ts'],
  coverageReporters: ['text-summary', 'text'],
  coverageThreshold: { global: { lines: 95, branches: 95, functions: 95, statements: 95 } },
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
