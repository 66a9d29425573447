import { JOB_DEFAULTS } from '../../lib/defaults';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { InvalidPropsError } from '../../lib/errors';
import { progressPolls, worstCaseHistoryEvents } from '../../lib/history-budget';
import { ReencryptionPipeline, type ReencryptionPipelineProps } from '../../lib/reencryption-pipeline';
import { STATE_NAMES } from '../../lib/reencryption-definition';
import {
  pipelineProps,
  actionsOf,
  DATABASE,
  identityAllowStatements,
  nagFindings,
  REGISTRY,
  resourcesIn,
  resourcesOf,
  SYNTH_TIMEOUT_MS,
  testStack,
  wildcardKmsOrSecretsActions,
} from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(overrides: Partial<ReencryptionPipelineProps> = {}) {
  const { stack, key } = testStack();
  const pipeline = new ReencryptionPipeline(stack, 'Pipeline', pipelineProps(key, overrides));
  return { stack, key, pipeline, template: Template.fromStack(stack) };
}

describe('ReencryptionPipeline with defaults', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build();
  });

  test('both queues are encrypted with the stack key and refuse plain HTTP', () => {
    const keyArn = { 'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'] };
    const queues = Object.values(resourcesOf(t.template, 'AWS::SQS::Queue'));
    expect(queues).toHaveLength(2);
    for (const q of queues) expect(q.Properties.KmsMasterKeyId).toEqual(keyArn);
    const policies = Object.values(resourcesOf(t.template, 'AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument).toMatchObject({
        Statement: expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      });
    }
  });

  test('the batch queue redrives to the DLQ after 5 receives, with visibility 6 × the worker timeout', () => {
    t.template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 6 * 180,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    t.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 180,
      MemorySize: 1769,
      Environment: { Variables: Match.objectLike({ KEYRING_KIND: 'kms' }) },
    });
  });

  test('the worker consumes through an event source mapping with maximum concurrency and partial batch failures', () => {
    t.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    t.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('BatchQueue'), 'Arn'] },
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 4 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('every function: newest Node runtime on arm64, X-Ray, Powertools env, its own KMS-encrypted retained log group', () => {
    const functions = Object.values(resourcesOf(t.template, 'AWS::Lambda::Function'));
    expect(functions).toHaveLength(10); // 8 tasks + worker + inventory
    for (const f of functions) {
      expect(f.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'rekey',
            POWERTOOLS_METRICS_NAMESPACE: 'Rekey',
          }),
        },
        LoggingConfig: { LogGroup: expect.anything() },
      });
    }
    const logGroups = Object.values(resourcesOf(t.template, 'AWS::Logs::LogGroup'));
    expect(logGroups).toHaveLength(11); // one per function + the state machine's
    for (const g of logGroups) {
      expect(g.Properties.KmsKeyId).toBeDefined();
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.DeletionPolicy).toBe('Retain');
    }
  });

  test('the state machine is Standard, JSONPath, traced, and logs ALL to the encrypted log group', () => {
    t.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('StateMachineLogs'), 'Arn'] },
            },
          },
        ],
      },
    });
    const machine = Object.values(resourcesOf(t.template, 'AWS::StepFunctions::StateMachine'))[0]!;
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    for (const name of Object.values(STATE_NAMES)) expect(definition).toContain(`\\"${name}\\":{`);
    expect(definition).toContain('\\"QueryLanguage\\":\\"JSONPath\\"');
    expect(definition).not.toMatch(/JSONata|\\"Assign\\"|\\"Arguments\\"/);
    expect(definition).toContain('\\"TimeoutSeconds\\":1209600');
  });

  test('IAM: no wildcard KMS or Secrets Manager action; Data API and secrets scoped to their ARNs', () => {
    expect(wildcardKmsOrSecretsActions(t.template)).toEqual([]);
    const statements = identityAllowStatements(t.template);
    const dataApi = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('rds-data:')));
    expect(dataApi.length).toBe(10);
    for (const s of dataApi) expect(resourcesIn(s)).toEqual([DATABASE.clusterArn]);
    const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    for (const s of secrets) {
      expect(actionsOf(s)).toEqual(['secretsmanager:GetSecretValue']);
      expect(resourcesIn(s)).toEqual([DATABASE.secretArn]);
    }
    // Only the Enqueue function may send batch messages.
    const senders = statements.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(senders).toHaveLength(1);
  });

  test('the kms keyring reaches KMS from the worker and Verify only', () => {
    const statements = identityAllowStatements(t.template);
    const reEncrypt = statements.filter((s) => actionsOf(s).includes('kms:ReEncryptTo'));
    expect(reEncrypt).toHaveLength(2);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.stack)).toEqual([]);
  });
});

describe('ReencryptionPipeline options', () => {
  test('tuning reaches the queue, the mapping and the definition', () => {
    const { template } = build({
      workerTimeout: Duration.seconds(90),
      maxConcurrency: 8,
      maxReceiveCount: 3,
      workerBatchSize: 10,
      batchSize: 500,
      maxErrorRate: 0.05,
      workerReservedConcurrency: 8,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 540,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 90, ReservedConcurrentExecutions: 8 });
    const machine = Object.values(resourcesOf(template, 'AWS::StepFunctions::StateMachine'))[0]!;
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"defaults\\":{\\"batchSize\\":500,\\"maxErrorRate\\":0.05');
  });

  test('the hierarchical keyring reads the keyset secret and decrypts with the key, nothing more', () => {
    const { stack, key } = testStack();
    const keysetSecret = Secret.fromSecretCompleteArn(
      stack,
      'Keyset',
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:keyset-AbCdEf',
    );
    new ReencryptionPipeline(stack, 'Pipeline', {
      key,
      database: DATABASE,
      keyring: { kind: 'hierarchical', keysetSecret },
      registry: REGISTRY,
    });
    const template = Template.fromStack(stack);
    const statements = identityAllowStatements(template);
    const keyset = statements.filter((s) => resourcesIn(s).includes(keysetSecret.secretArn));
    expect(keyset).toHaveLength(2); // worker + Verify
    for (const s of keyset) expect(actionsOf(s)).toEqual(['secretsmanager:GetSecretValue']);
    const keysetReaders = Object.entries(resourcesOf(template, 'AWS::IAM::Policy'))
      .filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes(keysetSecret.secretArn))
      .map(([id]) => id.replace(/RoleDefaultPolicy.*$/, ''));
    expect(keysetReaders.sort()).toEqual(['PipelineVerify', 'PipelineWorker']);
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:ReEncrypt')))).toHaveLength(0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ KEYRING_KIND: 'hierarchical', KEYSET_SECRET_ARN: keysetSecret.secretArn }),
      },
    });
  });

  test('bad props: one error listing every problem', () => {
    const { stack, key } = testStack();
    let error: unknown;
    try {
      new ReencryptionPipeline(stack, 'Pipeline', {
        key,
        database: DATABASE,
        keyring: { kind: 'kms' },
        registry: { tables: [{ name: 'users; drop', idColumn: '', columns: [] }] },
        batchSize: 0,
        maxErrorRate: 2,
        maxConcurrency: 1001,
        workerBatchSize: 11,
        maxReceiveCount: 0,
        workerTimeout: Duration.minutes(20),
        progressMinWaitSeconds: 600,
        progressMaxWaitSeconds: 60,
        executionTimeout: Duration.days(30),
        workerReservedConcurrency: 3,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidPropsError);
    const problems = (error as InvalidPropsError).problems;
    const props = problems.map((p) => p.split(':')[0]);
    expect(props).toEqual([
      'batchSize',
      'maxErrorRate',
      'maxConcurrency',
      'workerBatchSize',
      'maxReceiveCount',
      'progressMaxWaitSeconds',
      'workerTimeout',
      'executionTimeout',
      'workerReservedConcurrency',
      'registry.tables[0].name',
      'registry.tables[0].idColumn',
      'registry.tables[0].columns',
    ]);
    expect((error as Error).message).toContain('12 invalid props');
    expect((error as Error).message).toContain('workerReservedConcurrency: must be ≥ maxConcurrency (1001)');
  });

  test('a registry too large for the Lambda environment is refused', () => {
    const { stack, key } = testStack();
    const tables = Array.from({ length: 60 }, (_, i) => ({
      name: `table_${i}`,
      idColumn: 'id',
      columns: ['secret_value_encrypted'],
    }));
    expect(() => new ReencryptionPipeline(stack, 'Pipeline', pipelineProps(key, { registry: { tables } }))).toThrow(
      /registry: is \d+ bytes as JSON; it travels in the Lambda environment/,
    );
  });
});

describe('the 25,000-event history budget', () => {
  const pacing = { minWaitSeconds: 30, maxWaitSeconds: 900, waitFraction: 0.05 };
  const job = { rows: 100_000_000, batchSize: 1000, batchesPerEnqueue: 10_000 };

  test('the defaults match the arithmetic in docs/state-machine.md', () => {
    expect(progressPolls(5_000, pacing)).toBe(64);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 5_000 })).toBe(683);
    // The table's rows: rewrap and re-encrypt through the Data API (measured), and with 10 ms per call on AWS.
    expect(progressPolls(6_342, pacing)).toBe(69);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 6_342 })).toBe(728);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 7_192 })).toBe(746);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 7_754 })).toBe(764);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 598_802 })).toBe(6_722);
    expect(worstCaseHistoryEvents({ ...pacing, ...job, timeoutSeconds: 14 * 86_400 })).toBe(12_833);
  });

  test('settings whose worst case passes the budget are refused', () => {
    const { stack, key } = testStack();
    // The pipeline judges the worst case at its default batch size (JOB_DEFAULTS.batchSize).
    const expected = worstCaseHistoryEvents({
      ...pacing,
      maxWaitSeconds: 300,
      ...job,
      batchSize: JOB_DEFAULTS.batchSize,
      timeoutSeconds: 14 * 86_400,
    });
    expect(expected).toBeGreaterThan(20_000);
    expect(
      () =>
        new ReencryptionPipeline(
          stack,
          'Pipeline',
          pipelineProps(key, {
            progressMaxWaitSeconds: 300,
          }),
        ),
    ).toThrow(
      new RegExp(
        `progressMaxWaitSeconds: with executionTimeout 14 days an execution over 100,000,000 rows may record ${expected} history events; keep it under 20000`,
      ),
    );
    // A shorter timeout makes the same pacing acceptable.
    expect(
      () =>
        new ReencryptionPipeline(
          stack,
          'Pipeline2',
          pipelineProps(key, {
            progressMaxWaitSeconds: 300,
            executionTimeout: Duration.days(5),
          }),
        ),
    ).not.toThrow();
  });
});
