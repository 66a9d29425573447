/**
 * One jest project per test kind; the tree under test/ mirrors the source.
 * Type checking is done once by `tsc --noEmit` (npm run typecheck), so ts-jest
 * only transpiles here.
 */
const tsJest = ['ts-jest', { diagnostics: false, tsconfig: { isolatedModules: true } }];
// @middy/core ships ESM only (its package exports have no `require`): map it to its file and let ts-jest turn it into CommonJS.
const esmJs = ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } }];
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest, '^.+/node_modules/@middy/.+\\.js$': esmJs },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  moduleNameMapper: { '^@middy/core$': '<rootDir>/node_modules/@middy/core/index.js' },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  // The reliability figures (test/reliability) are printed as one table at the end of the run.
  reporters: ['default', '<rootDir>/test/reliability/support/figures-reporter.js'],
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'vectors', testMatch: ['<rootDir>/test/vectors/**/*.test.ts'] },
    {
      ...base,
      displayName: 'handlers',
      testMatch: ['<rootDir>/test/handlers/**/*.test.ts'],
      // Handlers are called with real event shapes against the same real PostgreSQL and moto as the integration tests.
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // PostgreSQL (DATABASE_URL, a throwaway cluster, or embedded PGlite) and moto_server: test/support/README.md.
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...base,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      // Faults and hostile input against the same real PostgreSQL and moto_server (docs/reliability.md).
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
