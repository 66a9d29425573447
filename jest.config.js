/**
 * One jest project per test kind; the tree under test/ mirrors the source.
 * Type checking is done once by `tsc --noEmit` (npm run typecheck), so ts-jest
 * only transpiles here.
 */
const tsJest = ['ts-jest', { diagnostics: false, tsconfig: { isolatedModules: true } }];
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'vectors', testMatch: ['<rootDir>/test/vectors/**/*.test.ts'] },
    { ...base, displayName: 'handlers', testMatch: ['<rootDir>/test/handlers/**/*.test.ts'] },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // PostgreSQL (DATABASE_URL, a throwaway cluster, or embedded PGlite) and moto_server: test/support/README.md.
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
