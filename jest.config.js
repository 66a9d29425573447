/**
 * One jest project per test kind; the tree under test/ mirrors the source.
 * Type checking is done once by `tsc --noEmit` (npm run typecheck), so ts-jest
 * only transpiles here.
 */
const tsJest = ['ts-jest', { isolatedModules: true, diagnostics: false }];
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'vectors', testMatch: ['<rootDir>/test/vectors/**/*.test.ts'] },
    { ...base, displayName: 'handlers', testMatch: ['<rootDir>/test/handlers/**/*.test.ts'] },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // globalSetup/globalTeardown (PostgreSQL + moto_server) are added by the harness.
    },
  ],
};
