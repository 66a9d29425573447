import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient, CreateScheduleCommand, CreateScheduleGroupCommand } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SetTopicAttributesCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { createKeyset } from '../../../functions/core/crypto/keyrings/keyset-changes';
import { serializeKeyset } from '../../../functions/core/crypto/keyrings/keyset-document';
import { main } from '../../../functions/cli/main';
import type { CliIo } from '../../../functions/cli/io';
import { createPipelineQueues } from '../../../functions/local/pipeline';
import { awsClientConfig, motoEndpoint } from '../../support/aws';
import { startDataApiServer, type DataApiServer } from '../../../functions/local/services/data-api/server';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { runCli, type CliRun } from '../../support/cli';

/**
 * `rekey doctor` against a deployment played by moto (KMS, Secrets Manager,
 * SQS, CloudWatch, SNS, EventBridge Scheduler — the real SDK clients, pointed
 * there by AWS_ENDPOINT_URL) and the PostgreSQL-backed Data API endpoint
 * (AWS_ENDPOINT_URL_RDS_DATA): the doctor builds its clients as an operator
 * would run it. Healthy → exit 0, every row PASS; each broken piece → exit 1
 * and that check's row FAIL with the reason. Key material never printed.
 */
type Row = { id: string; status: string; detail: string };
const TABLE = 'llm_providers';

describe('rekey doctor (moto + Data API endpoint)', () => {
  let db: TestDatabase;
  let dataApi: DataApiServer;
  let dir: string;
  let stack: string;
  let outputs: Record<string, string>;
  const saved = { ...process.env };
  const config = awsClientConfig();
  const kmsClient = new KMSClient(config);
  const secrets = new SecretsManagerClient(config);
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  const cloudwatch = new CloudWatchClient(config);
  const scheduler = new SchedulerClient(config);
  let keysetJson: string;

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, api_key_encrypted text)`);
    dataApi = await startDataApiServer(db.url);
    dir = mkdtempSync(join(tmpdir(), 'rekey-doctor-'));
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({ tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] }),
    );
    stack = `Rekey${randomUUID().slice(0, 8)}`;

    const kmsKeyArn = (await kmsClient.send(new CreateKeyCommand({ Description: 'rekey doctor test' }))).KeyMetadata!
      .Arn!;
    keysetJson = serializeKeyset(await createKeyset(new AwsKmsAdapter(kmsClient), kmsKeyArn));
    const keysetSecretArn = (
      await secrets.send(new CreateSecretCommand({ Name: `${stack}/keyset`, SecretString: keysetJson }))
    ).ARN!;
    const queues = await createPipelineQueues(sqs);
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: `${stack}-alarms` }))).TopicArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: 'oncall@example.com' }));
    for (const name of ['StalledPipeline', 'ExecutionsFailed']) await putAlarm(`${stack}-${name}-X1`, topicArn);
    const group = `${stack}-schedules`;
    await scheduler.send(new CreateScheduleGroupCommand({ Name: group }));
    for (const name of ['Inventory', 'KeysetRotation']) await putSchedule(group, name, 'ENABLED');

    outputs = {
      StateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:${stack}`,
      BatchQueueUrl: queues.queueUrl,
      DeadLetterQueueUrl: queues.deadLetterQueueUrl,
      AlarmTopicArn: topicArn,
      KmsKeyArn: kmsKeyArn,
      DatabaseClusterArn: 'arn:aws:rds:us-east-1:123456789012:cluster:app-db',
      DatabaseSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-db-AbCdEf',
      DatabaseName: 'app',
      KeysetSecretArn: keysetSecretArn,
      ScheduleGroupName: group,
    };
    writeOutputs();
    process.env.AWS_ENDPOINT_URL = motoEndpoint();
    process.env.AWS_ENDPOINT_URL_RDS_DATA = dataApi.endpoint;
  });

  afterEach(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await dataApi.close();
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const writeOutputs = (): void => writeFileSync(join(dir, 'cdk-outputs.json'), JSON.stringify({ [stack]: outputs }));
  const putAlarm = (name: string, topicArn: string, actionsEnabled = true) =>
    cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'rekey',
        MetricName: 'RowsFailed',
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topicArn],
        ActionsEnabled: actionsEnabled,
      }),
    );
  const putSchedule = (group: string, name: string, state: 'ENABLED' | 'DISABLED') =>
    scheduler.send(
      new CreateScheduleCommand({
        Name: name,
        GroupName: group,
        ScheduleExpression: 'rate(1 day)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: state,
        Target: {
          Arn: 'arn:aws:lambda:us-east-1:123456789012:function:inventory',
          RoleArn: 'arn:aws:iam::123456789012:role/scheduler',
        },
      }),
    );

  async function doctor(...extra: string[]): Promise<CliRun & { rows: Row[] }> {
    const run = await runCli(['doctor', '--outputs', 'cdk-outputs.json', '--json', ...extra], {
      env: { PATH: process.env.PATH },
      cwd: dir,
    });
    for (const secret of [keysetJson, ...JSON.parse(keysetJson).keys.map((k: { wrapped: string }) => k.wrapped)])
      expect(run.out + run.err).not.toContain(secret);
    const parsed = JSON.parse(run.out) as { checks?: Row[] };
    return { ...run, rows: parsed.checks ?? [] };
  }
  const row = (rows: Row[], id: string): Row => rows.find((r) => r.id === id)!;

  it('passes every check on a healthy deployment, and prints a table without --json', async () => {
    const r = await doctor();
    expect(r.rows.map((x) => [x.id, x.status])).toEqual([
      ['kms-key', 'pass'],
      ['keyset', 'pass'],
      ['data-api', 'pass'],
      ['migrations', 'pass'],
      ['registry', 'pass'],
      ['alarms', 'pass'],
      ['alarm-delivery', 'pass'],
      ['alarm-subscription', 'pass'],
      ['schedules', 'pass'],
      ['dead-letter-queue', 'pass'],
    ]);
    expect(r.code).toBe(0);
    expect(row(r.rows, 'keyset').detail).toMatch(/^primary kek-v1, 1 key\(s\) \(kek-v1\)/);
    expect(dataApi.calls['/Execute']).toBeGreaterThan(0); // the Data API path, not pg

    const out: string[] = [];
    const code = await main(['doctor', '--outputs', 'cdk-outputs.json'], {
      stdout: (t) => void out.push(t),
      stderr: () => undefined,
      isTTY: false,
      env: {},
      cwd: dir,
    });
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/^rekey doctor: stack Rekey\w+\n\ncheck +status +detail\nkms-key +PASS /);
    expect(out.join('')).toContain('All 10 checks passed.');
  });

  it('names each broken piece: keyset, registry column, DLQ, alarm actions, schedule', async () => {
    // A KEK KMS cannot unwrap (its ciphertext damaged), a dropped column, a batch in the DLQ, a silent alarm, a disabled schedule.
    const doc = JSON.parse(keysetJson) as { keys: { wrapped: string }[] };
    const w = Buffer.from(doc.keys[0]!.wrapped, 'base64');
    w[w.length - 1] ^= 0xff;
    doc.keys[0]!.wrapped = w.toString('base64');
    await secrets.send(
      new PutSecretValueCommand({ SecretId: outputs.KeysetSecretArn, SecretString: JSON.stringify(doc) }),
    );
    await db.sql.query(`ALTER TABLE ${TABLE} DROP COLUMN api_key_encrypted`);
    const job = randomUUID();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: outputs.DeadLetterQueueUrl,
        MessageBody: JSON.stringify({ jobId: job, batchId: `${TABLE}#3` }),
      }),
    );
    await putAlarm(`${stack}-Silent-X2`, outputs.AlarmTopicArn!, false);
    await putSchedule(outputs.ScheduleGroupName!, 'Paused', 'DISABLED');

    const r = await doctor();
    expect(r.code).toBe(1);
    expect(r.rows.filter((x) => x.status === 'fail').map((x) => x.id)).toEqual([
      'keyset',
      'registry',
      'alarms',
      'schedules',
      'dead-letter-queue',
    ]);
    expect(row(r.rows, 'keyset').detail).toContain('KEK "kek-v1" did not unwrap under KMS key');
    expect(row(r.rows, 'registry').detail).toContain('api_key_encrypted');
    expect(row(r.rows, 'alarms').detail).toBe(
      `1 of 3 alarm(s) would notify no one: ${stack}-Silent-X2 (actions disabled)`,
    );
    expect(row(r.rows, 'schedules').detail).toContain('Paused (DISABLED)');
    expect(row(r.rows, 'dead-letter-queue').detail).toBe(
      `1 message(s) in the dead-letter queue; job ${job}: 1 batch(es) → rekey redrive ${job}`,
    );
    // The doctor only looked: the message is still there for rekey redrive.
    expect((await doctor()).rows.find((x) => x.id === 'dead-letter-queue')!.status).toBe('fail');
  });

  it('fails the keyset check while AWSCURRENT is the bootstrap document, and the delivery and subscription checks on a Deny-only topic nobody follows', async () => {
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: outputs.KeysetSecretArn,
        SecretString: JSON.stringify({ format: 'rekey-keyset-bootstrap', version: 1 }),
      }),
    );
    outputs.AlarmTopicArn = (await sns.send(new CreateTopicCommand({ Name: `${stack}-unfollowed` }))).TopicArn!;
    writeOutputs();
    // The policy `enforceSSL: true` alone gives a topic: it replaces SNS's default, so CloudWatch may not publish.
    const denyOnly = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TLS',
          Effect: 'Deny',
          Principal: '*',
          Action: 'sns:Publish',
          Resource: outputs.AlarmTopicArn,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    };
    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn: outputs.AlarmTopicArn,
        AttributeName: 'Policy',
        AttributeValue: JSON.stringify(denyOnly),
      }),
    );
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(row(r.rows, 'keyset')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('still the bootstrap document'),
    });
    expect(row(r.rows, 'alarm-subscription')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('has no confirmed subscription'),
    });
    expect(row(r.rows, 'alarms').status).toBe('fail'); // the alarms notify the other topic
    expect(row(r.rows, 'alarm-delivery')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('no statement allows cloudwatch.amazonaws.com to sns:Publish'),
    });
  });

  it('fails the database checks when the Data API does not answer, and pending migrations', async () => {
    await db.sql.query(
      'DELETE FROM rekey_schema_migrations WHERE version = (SELECT max(version) FROM rekey_schema_migrations)',
    );
    let r = await doctor();
    expect(row(r.rows, 'migrations')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^1 migration\(s\) pending \(v\d+ \w+\): run rekey migrate/),
    });
    await dataApi.close();
    r = await doctor();
    expect(r.code).toBe(1);
    for (const id of ['data-api', 'migrations', 'registry']) expect(row(r.rows, id).status).toBe('fail');
    expect(row(r.rows, 'kms-key').status).toBe('pass');
  });

  it('skips what the stack does not have (kms keyring: no keyset; an older stack: no schedule group) and still exits 0; --stack picks one of several', async () => {
    const { KeysetSecretArn: _k, ScheduleGroupName: _s, ...kmsStack } = outputs;
    writeFileSync(join(dir, 'cdk-outputs.json'), JSON.stringify({ Other: {}, [stack]: kmsStack }));
    const r = await doctor('--stack', stack);
    expect(r.code).toBe(0);
    expect(row(r.rows, 'keyset')).toMatchObject({
      status: 'skip',
      detail: 'no KeysetSecretArn output (kms keyring: no keyset)',
    });
    expect(row(r.rows, 'schedules').status).toBe('skip');
    expect(r.rows.filter((x) => x.status === 'pass')).toHaveLength(8);
    // Without the database name (a stack from before the DatabaseName output), the Data API checks say what to pass.
    const { DatabaseName: _d, ...noName } = kmsStack;
    writeFileSync(join(dir, 'cdk-outputs.json'), JSON.stringify({ [stack]: noName }));
    const n = await doctor();
    expect(n.code).toBe(1);
    expect(row(n.rows, 'data-api').detail).toBe(
      'the Data API cannot be reached without --database-name (or a DatabaseName output)',
    );
    expect((await doctor('--database-name', 'app')).code).toBe(0);
  });

  it('a bad --outputs is a command-line error (exit 2) naming the file', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      stdout: (t) => void out.push(t),
      stderr: (t) => void err.push(t),
      isTTY: false,
      env: {},
      cwd: dir,
    };
    expect(await main(['doctor', '--outputs', 'missing.json'], io)).toBe(2);
    expect(err.join('')).toContain(
      '--outputs missing.json: no such file (write it with: cdk deploy --outputs-file missing.json)',
    );
    writeFileSync(join(dir, 'two.json'), JSON.stringify({ A: {}, B: {} }));
    expect(await main(['doctor', '--outputs', 'two.json'], io)).toBe(2);
    expect(err.join('')).toContain('holds stacks A, B: pass --stack NAME');
    expect(await main(['doctor'], io)).toBe(2);
  });
});
