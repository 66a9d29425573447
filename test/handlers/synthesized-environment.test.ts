import './log-everything';
import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { RekeyStack } from '../../lib/rekey-stack';
import { AwsKmsAdapter } from '../../functions/core/adapters/aws-kms';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { KmsKeyring } from '../../functions/core/crypto/keyrings/kms';
import type { EncryptedColumnRegistry } from '../../lib/registry';
import { handler as enqueue } from '../../functions/handlers/enqueue';
import { handler as finalize } from '../../functions/handlers/finalize';
import { handler as inventory } from '../../functions/handlers/inventory';
import { handler as plan } from '../../functions/handlers/plan';
import { handler as progress } from '../../functions/handlers/progress';
import { handler as validateInput } from '../../functions/handlers/validate-input';
import { handler as verify } from '../../functions/handlers/verify';
import { handler as worker } from '../../functions/handlers/worker';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { awsClientConfig } from '../support/aws';
import { startDataApiServer, type DataApiServer } from '../../functions/local/services/data-api/server';
import { freshDatabase, type TestDatabase } from '../support/database';
import { DATABASE, ENV, SYNTH_TIMEOUT_MS, testApp } from '../infra/support';
import { functionEnvironments } from './support/function-environments';
import { lambdaContext, sqsRecordOfMessage } from '../support/lambda';

/**
 * Every handler run with exactly the environment the synthesized template
 * gives its function — nothing borrowed from another function — against a
 * fresh, unmigrated database behind the Data API (the test endpoint over the
 * real PostgreSQL), moto's SQS and KMS, and the kms keyring as a kms-mode
 * stack deploys it. Only the AWS plumbing (region, credentials, endpoints)
 * comes from the test. A variable a handler needs but its function lacks
 * fails here, as it would on AWS.
 */
jest.setTimeout(SYNTH_TIMEOUT_MS);

const ROWS = 12;
const REGISTRY: EncryptedColumnRegistry = {
  tables: [
    {
      name: 'users',
      idColumn: 'id',
      columns: ['email_encrypted'],
      encrypt: { email: { target: 'email_encrypted', clearSource: true } },
    },
  ],
} as EncryptedColumnRegistry;

type Env = Record<string, string>;

describe('handlers with the environment the template gives their functions', () => {
  let db: TestDatabase;
  let dataApi: DataApiServer;
  let sqs: SQSClient;
  let queueUrl: string;
  let deadLetterQueueUrl: string;
  const saved = { ...process.env };
  let plumbing: ReturnType<typeof awsClientConfig>;

  beforeAll(async () => {
    plumbing = awsClientConfig(); // read now: each function's process.env below leaves out the harness's variables
    db = await freshDatabase();
    await db.sql.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, email_encrypted text)');
    for (let i = 1; i <= ROWS; i++)
      await db.sql.query('INSERT INTO users (id, email) VALUES ($1, $2)', [i, `plain-secret-${i}@example.com`]);
    dataApi = await startDataApiServer(db.url);
    sqs = new SQSClient(awsClientConfig());
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `synth-env-${randomUUID().slice(0, 8)}` })))
      .QueueUrl!;
    deadLetterQueueUrl = (
      await sqs.send(new CreateQueueCommand({ QueueName: `synth-env-dlq-${randomUUID().slice(0, 8)}` }))
    ).QueueUrl!;
  });

  afterAll(async () => {
    await resetPipelineContainer();
    process.env = { ...saved };
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: deadLetterQueueUrl }));
    sqs.destroy();
    await dataApi.close();
    await db.drop();
  });

  /** The stack a kms-mode deployment synthesizes, and each function's environment made concrete. */
  async function synthesizedEnvironments(): Promise<Record<string, Env>> {
    const kms = new KMSClient(awsClientConfig());
    const kmsKeyArn = (await kms.send(new CreateKeyCommand({ Description: 'rekey synthesized-environment test' })))
      .KeyMetadata!.Arn!;
    kms.destroy();
    const stack = new RekeyStack(testApp(), 'Rekey', {
      env: ENV,
      registry: REGISTRY,
      database: DATABASE,
      keyring: 'kms',
      kmsKeyArn,
    });
    return functionEnvironments(stack, { queueUrl, deadLetterQueueUrl });
  }

  /** As Lambda runs it: a new container (runtime) whose process environment is the function's own plus AWS plumbing. */
  async function asFunction<T>(name: string, env: Env, call: (context: Context) => Promise<T>): Promise<T> {
    await resetPipelineContainer();
    const aws = plumbing;
    process.env = {
      PATH: saved.PATH,
      ...env,
      AWS_LAMBDA_FUNCTION_NAME: `rekey-${name}`,
      AWS_REGION: aws.region,
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_RDS_DATA: dataApi.endpoint,
      AWS_ENDPOINT_URL_SQS: aws.endpoint,
      AWS_ENDPOINT_URL_KMS: aws.endpoint,
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    const context = lambdaContext(name, { remainingMs: 180_000 });
    return call(context);
  }

  async function receiveAll(): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
      if (!r.Messages?.length) return all;
      all.push(...r.Messages);
    }
  }
  const toRecord = (m: Message): SQSRecord => sqsRecordOfMessage(m, 'arn:aws:sqs:us-east-1:123456789012:batches');

  it('a first execution on a fresh database runs from ValidateInput to Finalize and the inventory', async () => {
    const env = await synthesizedEnvironments();
    const executionId = `arn:aws:states:us-east-1:123456789012:execution:rekey:${randomUUID()}`;

    // The database has no rekey tables yet: ValidateInput applies the migrations and registers the stack's KMS key.
    const request = await asFunction('ValidateInput', env.ValidateInput!, (c) =>
      validateInput({ executionId, input: { mode: 'encrypt' }, defaults: { batchSize: 5, maxErrorRate: 0.01 } }, c),
    );
    const keys = await db.sql.query<{ id: string; status: string; kms_key_arn: string }>(
      'SELECT id, status, kms_key_arn FROM rekey_keys',
    );
    expect(keys.rows).toEqual([{ id: 'kms-v1', status: 'active', kms_key_arn: env.Worker!.KMS_KEY_ARN }]);

    const job = await asFunction('Plan', env.Plan!, (c) => plan({ executionId, request }, c));
    expect(job).toMatchObject({ rowsTotal: ROWS, rowsToChange: ROWS, batchesTotal: 3 });
    const enqueued = await asFunction('Enqueue', env.Enqueue!, (c) =>
      enqueue({ executionId, jobId: job.jobId, maxBatches: 100 }, c),
    );
    expect(enqueued).toEqual({ batchesEnqueued: 3, batchesLeft: 0 });
    const records = (await receiveAll()).map(toRecord);
    expect(records).toHaveLength(3);
    const worked = await asFunction('Worker', env.Worker!, (c) => worker({ Records: records } satisfies SQSEvent, c));
    expect(worked).toEqual({ batchItemFailures: [] });

    const wait = { minWaitSeconds: 30, maxWaitSeconds: 900, waitFraction: 0.05 };
    expect(
      await asFunction('CheckProgress', env.CheckProgress!, (c) =>
        progress({ executionId, jobId: job.jobId, ...wait }, c),
      ),
    ).toMatchObject({
      rowsDone: ROWS,
      rowsFailed: 0,
      batchesRemaining: 0,
    });
    expect(await asFunction('Verify', env.Verify!, (c) => verify({ executionId, jobId: job.jobId }, c))).toEqual({
      rowsOnOldKeys: 0,
      rowsFailed: 0,
    });
    expect(await asFunction('Finalize', env.Finalize!, (c) => finalize({ executionId, jobId: job.jobId }, c))).toEqual({
      retiredKeyIds: [],
    });
    expect(await asFunction('Inventory', env.Inventory!, (c) => inventory({ source: 'schedule' }, c))).toMatchObject({
      tables: 1,
      overdueRows: 0,
    });

    const rows = await db.sql.query<{ id: string; email: string | null; email_encrypted: string }>(
      'SELECT id::text AS id, email, email_encrypted FROM users ORDER BY id',
    );
    expect(rows.rows.every((r) => r.email === null && r.email_encrypted.startsWith('rk1:'))).toBe(true);
    // What encrypt mode wrote decrypts, through KMS, to the plaintext each row held, and only in its own row.
    const kmsClient = new KMSClient(plumbing); // process.env is the last function's: the harness's variables are in `plumbing`
    const reader = await EnvelopeCipher.create({
      keyring: new KmsKeyring({
        kms: new AwsKmsAdapter(kmsClient),
        keys: [{ id: 'kms-v1', kmsKeyId: env.Worker!.KMS_KEY_ARN! }],
        primary: 'kms-v1',
      }),
    });
    const where = (id: string) => ({ table: 'users', column: 'email_encrypted', rowId: id, tenant: null });
    for (const r of rows.rows)
      expect((await reader.decrypt(r.email_encrypted, where(r.id))).toString()).toBe(
        `plain-secret-${r.id}@example.com`,
      );
    await expect(reader.decrypt(rows.rows[0]!.email_encrypted, where(rows.rows[1]!.id))).rejects.toThrow();
    kmsClient.destroy();
    const status = await db.sql.query<{ status: string }>('SELECT status FROM rekey_jobs WHERE id = $1', [job.jobId]);
    expect(status.rows[0]!.status).toBe('completed');
    expect(dataApi.calls['/Execute'] ?? 0).toBeGreaterThan(0); // the handlers really went through the Data API
  });
});
