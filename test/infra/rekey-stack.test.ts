import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Duration } from 'aws-cdk-lib';
import { RekeyStack, type RekeyStackProps } from '../../lib/rekey-stack';
import {
  actionsOf,
  DATABASE,
  ENV,
  identityAllowStatements,
  invalidPropsProblems,
  nagFindings,
  REGISTRY,
  resourcesIn,
  resourcesOf,
  SYNTH_TIMEOUT_MS,
  testApp,
  wildcardKmsOrSecretsActions,
} from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(props: Partial<RekeyStackProps>) {
  const stack = new RekeyStack(testApp(), 'Rekey', { env: ENV, registry: REGISTRY, ...props });
  return { stack, template: Template.fromStack(stack) };
}

const problemsOf = (props: Partial<RekeyStackProps>): string[] => invalidPropsProblems(() => build(props));

describe('RekeyStack: trial database, hierarchical keyring (the defaults)', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build({ trialDatabase: true, notificationEmails: ['ops@example.com'] });
  });

  test('a KMS key with rotation, retained on deletion', () => {
    const keys = Object.values(resourcesOf(t.template, 'AWS::KMS::Key'));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { EnableKeyRotation: true, PendingWindowInDays: 30 },
    });
  });

  test('keys and secrets are all retained on stack deletion', () => {
    for (const type of ['AWS::KMS::Key', 'AWS::SecretsManager::Secret']) {
      const resources = Object.values(resourcesOf(t.template, type));
      expect(resources.length).toBeGreaterThan(0);
      for (const r of resources) expect({ type, policy: r.DeletionPolicy }).toEqual({ type, policy: 'Retain' });
    }
  });

  test('the keyset secret rotates itself every 90 days; the Scheduler runs only the inventory', () => {
    t.template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    t.template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(90 days)' },
    });
    const schedules = Object.values(resourcesOf(t.template, 'AWS::Scheduler::Schedule'));
    expect(schedules.map((s) => s.Properties.ScheduleExpression)).toEqual(['cron(15 3 * * ? *)']);
  });

  test('the functions are wired to the trial cluster and to the keyset', () => {
    const cluster = t.stack.getLogicalId(t.stack.trialDatabase!.cluster.node.defaultChild as never);
    const functions = Object.values(resourcesOf(t.template, 'AWS::Lambda::Function'));
    expect(functions).toHaveLength(11);
    for (const f of functions) {
      const env = (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.DB_SECRET_ARN).toEqual({ 'Fn::GetAtt': [cluster, 'MasterUserSecret.SecretArn'] });
      expect(env.DB_NAME).toBe('rekey');
    }
    const withKeyset = functions.filter(
      (f) => 'KEYSET_SECRET_ARN' in (f.Properties.Environment as { Variables: object }).Variables,
    );
    expect(withKeyset).toHaveLength(3); // worker, Verify, rotation
    // Every pipeline function builds the engine runtime, which needs the registry (not only the rotation hook's).
    const withoutRegistry = functions.filter(
      (f) => !('REKEY_REGISTRY' in (f.Properties.Environment as { Variables: object }).Variables),
    );
    expect(withoutRegistry).toHaveLength(1);
    expect(
      withoutRegistry.map(
        (f) => (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables.STATE_MACHINE_ARN,
      ),
    ).toEqual([expect.anything()]);
  });

  test("the first keyset rotation (at deployment) waits for the trial cluster's writer instance", () => {
    const schedule = Object.values(resourcesOf(t.template, 'AWS::SecretsManager::RotationSchedule'))[0] as {
      DependsOn?: string[];
    };
    const instances = Object.keys(resourcesOf(t.template, 'AWS::RDS::DBInstance'));
    expect(instances).toHaveLength(1);
    expect(schedule.DependsOn).toEqual(expect.arrayContaining(instances));
  });

  test('no identity policy grants a wildcard KMS or Secrets Manager action', () => {
    expect(wildcardKmsOrSecretsActions(t.template)).toEqual([]);
    // and none grants KMS or Secrets Manager on every resource
    const broad = identityAllowStatements(t.template).filter(
      (s) => actionsOf(s).some((a) => /^(kms|secretsmanager):/.test(a)) && resourcesIn(s).includes('*'),
    );
    expect(broad).toEqual([]);
  });

  test('outputs name what operators need', () => {
    const outputs = Object.keys(t.template.toJSON().Outputs as object);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'StateMachineArn',
        'BatchQueueUrl',
        'DeadLetterQueueUrl',
        'DeadLetterQueueArn',
        'AlarmTopicArn',
        'KmsKeyArn',
        'DatabaseClusterArn',
        'KeysetSecretArn',
      ]),
    );
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.stack)).toEqual([]);
  });
});

describe('RekeyStack: existing database, kms keyring, imported key', () => {
  const kmsKeyArn = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build({
      database: { clusterArn: DATABASE.clusterArn, secretArn: DATABASE.secretArn, databaseName: 'app' },
      keyring: 'kms',
      kmsKeyArn,
      rotationEvery: Duration.days(30),
      tenants: [{ tenant: 'acme' }],
    });
  });

  test('no key, cluster or keyset is created', () => {
    for (const type of [
      'AWS::KMS::Key',
      'AWS::RDS::DBCluster',
      'AWS::SecretsManager::Secret',
      'AWS::SecretsManager::RotationSchedule',
    ])
      t.template.resourceCountIs(type, 0);
  });

  test("no global rewrap is scheduled (the KMS key rotates itself; a rewrap to the same key moves nothing): the inventory and the tenant's", () => {
    const inputs = Object.values(resourcesOf(t.template, 'AWS::Scheduler::Schedule')).map((s) => [
      s.Properties.ScheduleExpression,
      (s.Properties.Target as { Input: string }).Input,
    ]);
    expect(inputs).toEqual([
      ['cron(15 3 * * ? *)', '{"source":"schedule"}'],
      ['rate(90 days)', '{"mode":"rewrap","tenant":"acme"}'],
    ]);
  });

  test("ValidateInput gets the keyring's ids (to register the KMS key in the catalog) but no KMS permission", () => {
    const functions = resourcesOf(t.template, 'AWS::Lambda::Function');
    const validate = Object.entries(functions).find(([id]) => id.includes('ValidateInput'))!;
    expect((validate[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      KEYRING_KIND: 'kms',
      KMS_KEY_ARN: kmsKeyArn,
    });
    const role = JSON.stringify((validate[1].Properties as { Role: unknown }).Role);
    const policies = Object.values(resourcesOf(t.template, 'AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes(JSON.parse(role)['Fn::GetAtt'][0]),
    );
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies)
      expect(JSON.stringify(p.Properties.PolicyDocument)).not.toMatch(/"kms:(GenerateDataKey|Decrypt|ReEncrypt)/);
  });

  test('the Data API and KMS permissions name the given cluster and key', () => {
    const statements = identityAllowStatements(t.template);
    for (const s of statements.filter((s) => actionsOf(s).some((a) => a.startsWith('rds-data:'))))
      expect(resourcesIn(s)).toEqual([DATABASE.clusterArn]);
    for (const s of statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:'))))
      expect(resourcesIn(s)).toEqual([kmsKeyArn]);
    t.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KEYRING_KIND: 'kms', KMS_KEY_ARN: kmsKeyArn, DB_NAME: 'app' }) },
    });
  });

  test("the imported key's missing policy statements are reported for its owner", () => {
    const infos = Annotations.fromStack(t.stack).findInfo(
      '*',
      Match.stringLikeRegexp("imported KMS key's policy must allow"),
    );
    expect(infos.map((i) => String(i.entry.data))).toEqual([
      expect.stringContaining('logs.eu-west-1.amazonaws.com'),
      expect.stringContaining('cloudwatch.amazonaws.com'),
    ]);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.stack)).toEqual([]);
  });
});

describe('RekeyStack props', () => {
  test('the raw keyring is refused, saying why and what to use', () => {
    expect(problemsOf({ trialDatabase: true, keyring: 'raw' })).toEqual([
      expect.stringMatching(
        /^keyring: "raw" is refused on AWS: it reads KEKs from environment variables.*Use "hierarchical".*or "kms"/,
      ),
    ]);
  });

  test("a registry table's format is checked at synth (rk1, fernet, json-key-id)", () => {
    const registry = {
      tables: [
        { name: 't', idColumn: 'id', columns: ['c'], format: 'fernet2' as never },
        { name: 'u', idColumn: 'id', columns: ['c'], format: 'fernet' as const },
      ],
    };
    expect(problemsOf({ registry }).filter((p) => p.startsWith('registry'))).toEqual([
      'registry.tables[0].format: must be one of rk1, fernet, json-key-id',
    ]);
  });

  test('one error lists every problem of the stack and of its parts', () => {
    const problems = problemsOf({
      database: { clusterArn: 'arn:aws:rds:eu-west-1:111122223333:db:not-a-cluster', secretArn: 'my-secret' },
      trialDatabase: { maxCapacity: 0.5, minCapacity: 1 },
      keyring: 'vault' as never,
      kmsKeyArn: 'alias/rekey',
      registry: { tables: [] },
      pipeline: { maxConcurrency: 1 },
      rotationEvery: Duration.hours(1),
      inventory: { minute: '60', hour: '3' },
      tenants: [{ tenant: '' }],
      notificationEmails: ['nobody'],
      thresholds: { failedRowsPercent: -1 },
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'keyring',
      'database',
      'database.clusterArn',
      'database.secretArn',
      'trialDatabase.maxCapacity', // below 1 ACU
      'trialDatabase.maxCapacity', // below minCapacity
      'kmsKeyArn',
      'registry.tables',
      'pipeline.maxConcurrency',
      'rotationEvery',
      'inventory.minute',
      'tenants[0].tenant',
      'thresholds.failedRowsPercent',
      'notificationEmails[0]',
    ]);
  });

  test("kms keyring with a created key: the key rotates itself every rotationEvery (90 days by default), within KMS's range", () => {
    const kms = build({ database: { clusterArn: DATABASE.clusterArn, secretArn: DATABASE.secretArn }, keyring: 'kms' });
    kms.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, RotationPeriodInDays: 90 });
    expect(
      problemsOf({
        database: { clusterArn: DATABASE.clusterArn, secretArn: DATABASE.secretArn },
        keyring: 'kms',
        rotationEvery: Duration.days(30),
      }),
    ).toEqual([expect.stringMatching(/^rotationEvery: /)]);
  });

  test('a database is required', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^database: required: an existing Aurora cluster/)]);
  });
});
