/** Browser tests: Playwright (playwright-core) driving the system's Chromium. `npm run test:e2e` */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/e2e'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  // No test reaches beyond this machine: Chromium is its own process, the demo and the emulator are on loopback.
  setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/offline.ts'],
};
