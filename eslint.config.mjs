import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Product code, benches, scripts and examples never reach into test/: what they share with the tests
// (the PostgreSQL and moto launchers, say) lives in functions/local/services.
const noTestImports = {
  group: ['**/test', '**/test/**'],
  message: 'only test/ imports from test/; shared code belongs in functions/ (e.g. functions/local/services)',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'cdk.out/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['bin/**/*.ts', 'lib/**/*.ts', 'functions/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noTestImports] }] },
  },
  {
    // Handlers, the containers and the CLI take AWS clients and pg pools from functions/runtime (its containers and
    // aws-ports.ts), which builds them from functions/core/adapters: none of them imports the SDK or pg.
    files: ['functions/handlers/**/*.ts', 'functions/runtime/**/*.ts', 'functions/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'pg', message: 'take pools from functions/runtime; functions/core/adapters/pg builds them' }],
          patterns: [
            {
              group: ['@aws-sdk/*'],
              message:
                'take clients from functions/runtime (aws-ports.ts, the *-container.ts modules); adapters build them',
            },
            noTestImports,
          ],
        },
      ],
    },
  },
  {
    // The domain never reaches for Lambda, middy, CDK, the AWS SDK or pg directly: only adapters do.
    files: ['functions/core/**/*.ts'],
    ignores: ['functions/core/adapters/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['aws-lambda', '@middy/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
              message: 'functions/core stays free of Lambda/CDK imports',
            },
            {
              group: ['@aws-sdk/*', 'pg', '@aws-lambda-powertools/*'],
              message: 'only functions/core/adapters import AWS SDK clients or pg',
            },
            // This block replaces the one above for functions/core (flat config does not merge a rule's options).
            noTestImports,
          ],
        },
      ],
    },
  },
);
