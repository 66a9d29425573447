import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    // The domain never reaches for Lambda, middy, CDK, the AWS SDK or pg directly: only adapters do.
    files: ['functions/core/**/*.ts'],
    ignores: ['functions/core/adapters/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['aws-lambda', '@middy/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'], message: 'functions/core stays free of Lambda/CDK imports' },
            { group: ['@aws-sdk/*', 'pg', '@aws-lambda-powertools/*'], message: 'only functions/core/adapters import AWS SDK clients or pg' },
          ],
        },
      ],
    },
  },
);
