import './log-everything';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { METRICS_NAMESPACE, MetricNames } from '../../functions/core/metrics-names';
import type { ExecutionRequest } from '../../functions/core/pipeline/execution-request';
import { claimBatch } from '../../functions/core/reencrypt/store/batch-leases';
import { handler as abort } from '../../functions/handlers/abort';
import { handler as enqueue } from '../../functions/handlers/enqueue';
import { handler as finalize } from '../../functions/handlers/finalize';
import { handler as inventory } from '../../functions/handlers/inventory';
import { handler as markFailed } from '../../functions/handlers/mark-failed';
import { handler as plan } from '../../functions/handlers/plan';
import { handler as progress } from '../../functions/handlers/progress';
import { handler as verify } from '../../functions/handlers/verify';
import { handler as worker } from '../../functions/handlers/worker';
import { BatchBusyError } from '../../functions/handlers/shared/errors';
import { HandlerConfigError } from '../../functions/runtime/errors';
import { QueueSendError } from '../../functions/core/ports/queues';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { awsClientConfig } from '../support/aws';
import { migratedDatabase, type TestDatabase } from '../support/database';
import { lambdaContext, sqsRecordOfMessage } from '../support/lambda';
import { executionRequest, executionArn } from '../support/execution-input';
import { PROGRESS_DEFAULTS } from '../../lib/defaults';

/**
 * The state machine's task handlers and the worker called one after the other
 * as a deployment calls them: Step Functions task payloads as the definition
 * builds them (docs/state-machine.md), the Enqueue handler sending to a real
 * SQS queue (moto), the worker fed the messages received from it. Results are
 * checked field for field against the documented contract; logs and EMF
 * metrics are read from stdout and scanned for the test's plaintexts and keys.
 */
const context = lambdaContext('step', { remainingMs: 180_000 });
const ROWS = 30;
const v1 = randomBytes(32);
const v2 = randomBytes(32);
const request: ExecutionRequest = executionRequest();
const wait = PROGRESS_DEFAULTS; // the pacing the state machine passes by default

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

describe('pipeline step handlers', () => {
  let db: TestDatabase;
  let sqs: SQSClient;
  let queueUrl: string;
  let logged: string;
  let spies: jest.SpyInstance[];
  const saved = { ...process.env };

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query('CREATE TABLE secrets (id bigint PRIMARY KEY, v text)');
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: v1 }]) });
    for (let i = 1; i <= ROWS; i++) {
      await db.sql.query('INSERT INTO secrets VALUES ($1, $2)', [
        i,
        await cipher.encrypt(`plain-secret-${i}`, { table: 'secrets', column: 'v', rowId: String(i) }),
      ]);
    }
    sqs = new SQSClient(awsClientConfig());
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `steps-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
    const aws = awsClientConfig();
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      KEYRING_KIND: 'raw',
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', v2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', v1),
      REKEY_REGISTRY: JSON.stringify({ tables: [{ name: 'secrets', idColumn: 'id', columns: ['v'] }] }),
      JOB_QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: aws.endpoint,
      AWS_REGION: aws.region,
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    await resetPipelineContainer();
    logged = '';
    const capture = (chunk: string | Uint8Array): boolean => ((logged += chunk.toString()), true);
    spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
  });

  afterEach(async () => {
    spies.forEach((s) => s.mockRestore());
    await resetPipelineContainer();
    process.env = { ...saved };
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    sqs.destroy();
    await db.drop();
    expect(logged).not.toMatch(/plain-secret-\d+/);
    for (const key of [v1, v2]) {
      expect(logged).not.toContain(key.toString('base64'));
      expect(logged).not.toContain(key.toString('hex'));
    }
  });

  /** The EMF documents printed so far (Powertools Metrics writes them to stdout). */
  function emf(): Emf[] {
    return logged
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Emf);
  }
  function metricSum(name: string): number {
    return emf()
      .filter((d) => d._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === name)))
      .reduce(
        (sum, d) => sum + (Array.isArray(d[name]) ? (d[name] as number[]).reduce((a, b) => a + b, 0) : Number(d[name])),
        0,
      );
  }

  async function receiveAll(): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (!r.Messages?.length) return all;
      all.push(...r.Messages);
    }
  }
  const toRecord = (m: Message): SQSRecord => sqsRecordOfMessage(m, 'arn:aws:sqs:us-east-1:123456789012:steps');

  async function planned(): Promise<{ executionId: string; jobId: string; batchesTotal: number }> {
    const executionId = executionArn();
    const out = (await plan({ executionId, request }, context)) as { jobId: string; batchesTotal: number };
    return { executionId, ...out };
  }

  it('Plan → Enqueue (SQS) → worker → CheckProgress → Verify → Finalize → inventory, each returning exactly its contract', async () => {
    const executionId = executionArn();
    const job = (await plan({ executionId, request }, context)) as Record<string, unknown>;
    expect(Object.keys(job).sort()).toEqual(['batchesTotal', 'jobId', 'plan', 'rowsToChange', 'rowsTotal']);
    expect(job).toMatchObject({ rowsTotal: ROWS, rowsToChange: ROWS, batchesTotal: 3, plan: null }); // the rotation plan is a dry run's
    const jobId = String(job.jobId);
    // Plan again for the same execution (a Step Functions retry): the same job.
    expect(await plan({ executionId, request }, context)).toEqual(job);

    const sent = await enqueue({ executionId, jobId, maxBatches: 2 }, context);
    expect(sent).toEqual({ batchesEnqueued: 2, batchesLeft: 1 });
    expect(await enqueue({ executionId, jobId, maxBatches: 10_000 }, context)).toEqual({
      batchesEnqueued: 1,
      batchesLeft: 0,
    });
    const messages = await receiveAll();
    expect(
      messages
        .map((m) => JSON.parse(m.Body!) as unknown)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual(['secrets#0', 'secrets#1', 'secrets#2'].map((batchId) => ({ jobId, batchId })));

    const before = await progress({ executionId, jobId, ...wait }, context);
    expect(before).toEqual({ rowsDone: 0, rowsFailed: 0, batchesRemaining: 3, errorRate: 0, waitSeconds: 30 });

    const response = await worker({ Records: messages.map(toRecord) } satisfies SQSEvent, context);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(metricSum(MetricNames.RowsReencrypted)).toBe(ROWS);
    expect(metricSum(MetricNames.RowsFailed)).toBe(0);
    expect(emf().every((d) => d._aws.CloudWatchMetrics.every((m) => m.Namespace === METRICS_NAMESPACE))).toBe(true);

    expect(await progress({ executionId, jobId, ...wait }, context)).toEqual({
      rowsDone: ROWS,
      rowsFailed: 0,
      batchesRemaining: 0,
      errorRate: 0,
      waitSeconds: 30,
    });
    expect(await verify({ executionId, jobId }, context)).toEqual({ rowsOnOldKeys: 0, rowsFailed: 0 });
    expect(await finalize({ executionId, jobId }, context)).toEqual({ retiredKeyIds: ['kek-v1'] });
    const keys = await db.sql.query<{ id: string; status: string }>('SELECT id, status FROM rekey_keys ORDER BY id');
    expect(keys.rows).toEqual([
      { id: 'kek-v1', status: 'retired' },
      { id: 'kek-v2', status: 'active' },
    ]);

    // The daily inventory (EventBridge Scheduler input): rows per key per table as RowsOnKey.
    const counted = await inventory({ source: 'schedule' }, context);
    expect(counted).toMatchObject({ tables: 1, overdueRows: 0 });
    const onKey = emf().filter((d) =>
      d._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === MetricNames.RowsOnKey)),
    );
    expect(onKey.map((d) => ({ table: d.table, keyId: d.keyId, rows: d[MetricNames.RowsOnKey] }))).toEqual([
      { table: 'secrets', keyId: 'kek-v2', rows: ROWS },
    ]);
    expect(metricSum(MetricNames.RowsOnOverdueRetiringKeys)).toBe(0);
  });

  it('the worker counts failed values as decryption errors, not encryption errors, per value', async () => {
    // Rows 2 and 3 swap values: each is a valid envelope bound to the other row, so both fail to authenticate.
    await db.sql.query('UPDATE secrets s SET v = o.v FROM secrets o WHERE (s.id, o.id) IN ((2, 3), (3, 2))');
    const { executionId, jobId } = await planned();
    await enqueue({ executionId, jobId, maxBatches: 10_000 }, context);
    const response = await worker({ Records: (await receiveAll()).map(toRecord) }, context);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(metricSum(MetricNames.RowsReencrypted)).toBe(ROWS - 2);
    expect(metricSum(MetricNames.RowsFailed)).toBe(2);
    expect(metricSum(MetricNames.DecryptionErrors)).toBe(2);
    expect(metricSum(MetricNames.EncryptionErrors)).toBe(0);
  });

  it('Abort marks the job aborted and counts it; the worker then acknowledges its messages without running them', async () => {
    const { executionId, jobId } = await planned();
    await enqueue({ executionId, jobId, maxBatches: 10_000 }, context);
    await expect(abort({ executionId, jobId, errorRate: 0.5, maxErrorRate: 0.01 }, context)).resolves.toEqual({
      aborted: true,
    });
    expect(metricSum(MetricNames.JobAborted)).toBe(1);
    const response = await worker({ Records: (await receiveAll()).map(toRecord) }, context);
    expect(response).toEqual({ batchItemFailures: [] });
    const { rows } = await db.sql.query<{ status: string; rows_done: string }>(
      'SELECT status, rows_done FROM rekey_jobs WHERE id = $1',
      [jobId],
    );
    expect(rows[0]).toEqual({ status: 'aborted', rows_done: '0' });
    // MarkFailed afterwards (a Catch after the abort) leaves an ended job as it is.
    await expect(markFailed({ executionId, error: 'States.TaskFailed' }, context)).resolves.toEqual({ jobId });
    expect(
      (await db.sql.query<{ status: string }>('SELECT status FROM rekey_jobs WHERE id = $1', [jobId])).rows[0]!.status,
    ).toBe('aborted');
  });

  it('MarkFailed fails a running job by execution id', async () => {
    const { executionId, jobId } = await planned();
    await expect(markFailed({ executionId, error: 'QueueSendError' }, context)).resolves.toEqual({ jobId });
    const { rows } = await db.sql.query<{ status: string }>('SELECT status FROM rekey_jobs WHERE id = $1', [jobId]);
    expect(rows[0]!.status).toBe('failed');
  });

  it('the worker retries a batch another worker holds, and acknowledges messages for jobs that no longer exist', async () => {
    const { executionId, jobId } = await planned();
    await enqueue({ executionId, jobId, maxBatches: 10_000 }, context);
    const messages = await receiveAll();
    const held = messages.find((m) => (JSON.parse(m.Body!) as { batchId: string }).batchId === 'secrets#2')!;
    await claimBatch(db.sql, jobId, { table: 'secrets', seq: 2 }, 'other-worker', 60_000, 5);
    const stale = {
      ...toRecord(messages[0]!),
      messageId: 'stale',
      body: JSON.stringify({ jobId: randomUUID(), batchId: 'secrets#1' }),
    };
    const response = await worker({ Records: [...messages.map(toRecord), stale] }, context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: held.MessageId }] });
    // Alone in its delivery, the busy record is still reported, not thrown as a failed invocation.
    await expect(worker({ Records: [toRecord(held)] }, context)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: held.MessageId }],
    });
    expect(logged).toContain(BatchBusyError.name);
    // The failure's log line names the batch, so an operator can follow it to the DLQ.
    const busy = logged.split('\n').find((line) => line.includes('record failed') && line.includes(held.MessageId!));
    expect(busy).toContain('"batchId":"secrets#2"');
    expect(busy).toContain(`"jobId":"${jobId}"`);
    expect(logged).toContain('stale message acknowledged');
    expect(metricSum(MetricNames.RowsReencrypted)).toBe(20);
  });

  it('Enqueue: a missing queue is a deployment error; SQS refusing messages is retryable (Step Functions retries the task)', async () => {
    const { executionId, jobId } = await planned();
    delete process.env.JOB_QUEUE_URL;
    const missing = await enqueue({ executionId, jobId, maxBatches: 10 }, context).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HandlerConfigError);
    expect(missing).toMatchObject({ name: 'HandlerConfigError', retryable: false, missing: ['JOB_QUEUE_URL'] });

    process.env.JOB_QUEUE_URL = queueUrl;
    const sqsMock = mockClient(SQSClient);
    try {
      sqsMock
        .on(SendMessageBatchCommand)
        .resolves({ Successful: [], Failed: [{ Id: '0', Code: 'KMS.ThrottlingException', SenderFault: false }] });
      const refused = await enqueue({ executionId, jobId, maxBatches: 10 }, context).catch((e: unknown) => e);
      // Lambda reports the error's name as the errorType Step Functions matches in Retry/Catch.
      expect(refused).toBeInstanceOf(QueueSendError);
      expect(refused).toMatchObject({ name: 'QueueSendError', retryable: true, failed: 1 });
    } finally {
      sqsMock.restore();
    }
    // Nothing was marked enqueued: the retried task sends every batch.
    await expect(enqueue({ executionId, jobId, maxBatches: 10 }, context)).resolves.toEqual({
      batchesEnqueued: 3,
      batchesLeft: 0,
    });
    expect(logged).toContain('"error":"QueueSendError"');
  });

  it('Enqueue: a send refused midway marks the batches sent before it, so the retried task sends only the rest', async () => {
    const executionId = executionArn();
    const { jobId, batchesTotal } = (await plan({ executionId, request: { ...request, batchSize: 2 } }, context)) as {
      jobId: string;
      batchesTotal: number;
    };
    expect(batchesTotal).toBe(15);
    const sqsMock = mockClient(SQSClient);
    try {
      const accepted = Array.from({ length: 10 }, (_, i) => ({
        Id: String(i),
        MessageId: `m${i}`,
        MD5OfMessageBody: 'x',
      }));
      sqsMock
        .on(SendMessageBatchCommand)
        .resolvesOnce({ Successful: accepted, Failed: [] })
        .resolves({ Successful: [], Failed: [{ Id: '0', Code: 'ThrottlingException', SenderFault: false }] });
      await expect(enqueue({ executionId, jobId, maxBatches: 100 }, context)).rejects.toBeInstanceOf(QueueSendError);
    } finally {
      sqsMock.restore();
    }
    await expect(enqueue({ executionId, jobId, maxBatches: 100 }, context)).resolves.toEqual({
      batchesEnqueued: 5,
      batchesLeft: 0,
    });
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    expect(received.Messages).toHaveLength(5);
  });
});
