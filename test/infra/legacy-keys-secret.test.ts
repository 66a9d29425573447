import { Template } from 'aws-cdk-lib/assertions';
import { CONTEXT_KEYS, stackPropsFromContext } from '../../lib/app';
import { ENV as FUNCTION_ENV } from '../../lib/environment';
import { RekeyStack, type RekeyStackProps } from '../../lib/rekey-stack';
import type { EncryptedColumnRegistry } from '../../lib/registry';
import {
  actionsOf,
  DATABASE,
  ENV,
  identityAllowStatements,
  invalidPropsProblems,
  nagFindings,
  resourcesIn,
  resourcesOf,
  SYNTH_TIMEOUT_MS,
  testApp,
  wildcardKmsOrSecretsActions,
} from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

const LEGACY_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-legacy-keys-AbCdEf';
const LEGACY_SECRET_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const FERNET_REGISTRY: EncryptedColumnRegistry = {
  tables: [
    { name: 'users', idColumn: 'id', columns: ['email'], format: 'fernet' },
    { name: 'accounts', schema: 'billing', idColumn: 'id', columns: ['iban'], format: 'fernet' },
    { name: 'orders', idColumn: 'id', columns: ['card'] },
  ],
};

function build(props: Partial<RekeyStackProps>) {
  const stack = new RekeyStack(testApp(), 'Rekey', {
    env: ENV,
    registry: FERNET_REGISTRY,
    database: DATABASE,
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

const problemsOf = (props: Partial<RekeyStackProps>): string[] => invalidPropsProblems(() => build(props));

/** Logical ids (without the role suffix) of the functions whose environment names the legacy keys secret. */
function functionsWithSecret(template: Template): string[] {
  return Object.entries(resourcesOf(template, 'AWS::Lambda::Function'))
    .filter(
      ([, fn]) =>
        (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.[
          FUNCTION_ENV.legacyKeysSecretArn
        ] === LEGACY_SECRET,
    )
    .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))
    .sort();
}

describe('legacy keys secret', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build({ legacyKeysSecretArn: LEGACY_SECRET });
  });

  test('the functions that classify, rotate or count Fernet values get the secret ARN, the others do not', () => {
    expect(functionsWithSecret(t.template)).toEqual(
      [
        'PipelineFinalize',
        'PipelineInventory',
        'PipelinePlan',
        'PipelineValidateInput',
        'PipelineVerify',
        'PipelineWorker',
      ]
        .map((f) => `${f}Function`)
        .sort(),
    );
  });

  test('GetSecretValue on exactly that secret, for exactly those functions; no key material in any environment', () => {
    expect(wildcardKmsOrSecretsActions(t.template)).toEqual([]);
    const onSecret = identityAllowStatements(t.template).filter((s) => resourcesIn(s).includes(LEGACY_SECRET));
    expect(onSecret).toHaveLength(6);
    for (const s of onSecret) {
      expect(actionsOf(s)).toEqual(['secretsmanager:GetSecretValue']);
      // Policy minimization merges it with the secrets the function reads anyway (database, the stack's keyset); nothing else.
      const ownSecrets = Object.keys(resourcesOf(t.template, 'AWS::SecretsManager::Secret')).map((id) =>
        JSON.stringify({ Ref: id }),
      );
      expect(resourcesIn(s).filter((r) => r !== DATABASE.secretArn && !ownSecrets.includes(JSON.stringify(r)))).toEqual(
        [LEGACY_SECRET],
      );
    }
    const readers = Object.entries(resourcesOf(t.template, 'AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(LEGACY_SECRET))
      .map(([id]) => id.replace(/RoleDefaultPolicy.*$/, ''));
    expect(readers.sort()).toEqual([
      'PipelineFinalize',
      'PipelineInventory',
      'PipelinePlan',
      'PipelineValidateInput',
      'PipelineVerify',
      'PipelineWorker',
    ]);
    const text = JSON.stringify(t.template.toJSON());
    for (const variable of ['ENCRYPTION_KEY', 'ENCRYPTION_KEY_FALLBACK', 'SECRETS_ENCRYPTION_KEY'])
      expect(text).not.toContain(`"${variable}"`);
  });

  test('a customer managed key of the secret: kms:Decrypt on that key through Secrets Manager only', () => {
    const { template } = build({ legacyKeysSecretArn: LEGACY_SECRET, legacyKeysSecretKeyArn: LEGACY_SECRET_KEY });
    const onKey = identityAllowStatements(template).filter((s) => resourcesIn(s).includes(LEGACY_SECRET_KEY));
    expect(onKey).toHaveLength(6);
    for (const s of onKey) {
      expect(actionsOf(s)).toEqual(['kms:Decrypt']);
      expect((s as { Condition?: unknown }).Condition).toEqual({
        StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
      });
    }
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.stack)).toEqual([]);
  });

  test('synth refuses Fernet tables without the secret, naming every such table in one problem', () => {
    expect(problemsOf({})).toEqual([
      expect.stringMatching(
        /^legacyKeysSecretArn: required: users, billing\.accounts have format "fernet", .*ENCRYPTION_KEY, ENCRYPTION_KEY_FALLBACK.*every row of those tables would fail/,
      ),
    ]);
  });

  test('a partial or malformed ARN, and a key ARN without a secret, are refused', () => {
    expect(
      problemsOf({
        legacyKeysSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-legacy-keys',
        legacyKeysSecretKeyArn: 'alias/legacy',
      }),
    ).toEqual([
      expect.stringMatching(/^legacyKeysSecretArn: must be a complete Secrets Manager secret ARN/),
      expect.stringMatching(/^legacyKeysSecretKeyArn: must be a KMS key ARN/),
    ]);
    expect(
      problemsOf({
        registry: { tables: [{ name: 'orders', idColumn: 'id', columns: ['card'] }] },
        legacyKeysSecretKeyArn: LEGACY_SECRET_KEY,
      }),
    ).toEqual(['legacyKeysSecretKeyArn: applies only with legacyKeysSecretArn']);
  });

  test('JSON key_id tables are refused on AWS, with or without the secret, saying why and what to do', () => {
    const registry: EncryptedColumnRegistry = {
      tables: [{ name: 'llm_providers', idColumn: 'id', columns: ['api_key_encrypted'], format: 'json-key-id' }],
    };
    expect(problemsOf({ registry, legacyKeysSecretArn: LEGACY_SECRET })).toEqual([
      expect.stringMatching(
        /^registry: llm_providers has format "json-key-id", which the stack cannot rotate yet: .*CLI and the raw keyring/,
      ),
    ]);
  });

  test('without Fernet tables and without the secret, no function gets it', () => {
    const { template } = build({ registry: { tables: [{ name: 'orders', idColumn: 'id', columns: ['card'] }] } });
    expect(functionsWithSecret(template)).toEqual([]);
    expect(JSON.stringify(template.toJSON())).not.toContain(FUNCTION_ENV.legacyKeysSecretArn);
  });

  test('the context keys reach the stack props', () => {
    const app = testApp({
      [CONTEXT_KEYS.clusterArn]: DATABASE.clusterArn,
      [CONTEXT_KEYS.secretArn]: DATABASE.secretArn,
      [CONTEXT_KEYS.legacyKeysSecretArn]: LEGACY_SECRET,
      [CONTEXT_KEYS.legacyKeysSecretKeyArn]: LEGACY_SECRET_KEY,
    });
    const props = stackPropsFromContext(app.node, process.cwd(), { registry: FERNET_REGISTRY });
    expect(props).toMatchObject({ legacyKeysSecretArn: LEGACY_SECRET, legacyKeysSecretKeyArn: LEGACY_SECRET_KEY });
  });
});
