import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { formatRawKey } from '../../functions/core/crypto/keyrings/raw';
import { handler as plan } from '../../functions/handlers/plan';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { handler as worker } from '../../functions/handlers/worker';
import { SqsEventSource } from '../../functions/local/sqs-event-source';
import { awsClientConfig } from '../support/aws';
import { lambdaContext } from '../support/lambda';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import { recordFigure, sized } from './support/figures';
import { checkVault, COLUMN, seedVault, VAULT, valueOf, type Vault } from './support/vault';
import { executionRequest } from '../support/execution-input';
import { seededRandom } from '../support/random';

/**
 * At-least-once delivery, through the real Lambda worker handler with real SQS
 * event shapes from a real queue (moto), polled by the local event source
 * mapping with four concurrent pollers:
 * - every batch message is sent twice: the copies are delivered concurrently
 *   (to two pollers at once) or one after the other;
 * - one in ten first deliveries "outlives" the queue's visibility timeout
 *   (the handler returns only after it expired), so SQS delivers the message
 *   again while the first invocation is still in flight; one batch pauses
 *   inside its write transaction past the timeout, so its redelivery meets
 *   the live lease;
 * - after the job's batches are done, every message is sent twice more (a
 *   late redelivery, in sequence).
 *
 * A trigger counts the writes of every row: no row is changed twice, none is
 * missed; the job counts every row and batch once.
 */
const ROWS = sized(3000, 20_000);
const BATCH = sized(100, 250);
const VISIBILITY_SECONDS = 2;
// Time for every batch the test delivers (the worker claims a batch only with WORKER_BATCH_BUDGET_MS left).
const context = lambdaContext('worker', { remainingMs: 900_000 });

let db: TestDatabase;
let vault: Vault;
let sqs: SQSClient;
let queueUrl: string;
const saved = { ...process.env };

beforeAll(async () => {
  requireRealPostgres('four pollers run batches of one job at the same time');
  db = await migratedDatabase({ poolSize: 2 });
  vault = await seedVault(db.sql, db.url, ROWS, 2);
  // Every change of a row's value, counted by the database itself.
  await db.sql.query(`CREATE TABLE vault_writes (id bigint NOT NULL)`);
  await db.sql.query(`CREATE FUNCTION count_vault_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO vault_writes VALUES (NEW.id); RETURN NEW; END $$`);
  await db.sql.query(`CREATE TRIGGER vault_writes AFTER UPDATE OF ${COLUMN} ON ${VAULT}
    FOR EACH ROW WHEN (OLD.${COLUMN} IS DISTINCT FROM NEW.${COLUMN}) EXECUTE FUNCTION count_vault_write()`);
  Object.assign(process.env, {
    DATABASE_URL: db.url,
    KEYRING_KIND: 'raw',
    SECRETS_ENCRYPTION_KEY: formatRawKey('kek-1', vault.keys[1]!),
    SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-0', vault.keys[0]!),
    REKEY_REGISTRY: JSON.stringify({ tables: [{ name: VAULT, idColumn: 'id', columns: [COLUMN] }] }),
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    // The third batch this container writes pauses inside its transaction past the visibility timeout.
    REKEY_TEST_PAUSE_AT: 'batch.written:3',
    REKEY_TEST_PAUSE_MS: String((VISIBILITY_SECONDS + 2) * 1000),
  });
  await resetPipelineContainer();
  sqs = new SQSClient(awsClientConfig());
  queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `dup-${randomUUID().slice(0, 8)}`,
        Attributes: { VisibilityTimeout: String(VISIBILITY_SECONDS) },
      }),
    )
  ).QueueUrl!;
});
afterAll(async () => {
  await resetPipelineContainer();
  process.env = { ...saved };
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs?.destroy();
  vault?.dispose();
  await db?.drop();
});

async function depth(): Promise<number> {
  const a = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible)
  );
}

async function sendTwice(jobId: string, batchIds: readonly string[]): Promise<number> {
  const bodies = batchIds.flatMap((batchId) => [
    JSON.stringify({ jobId, batchId }),
    JSON.stringify({ jobId, batchId }),
  ]);
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
      }),
    );
  }
  return bodies.length;
}

it(
  'runs every batch once however often and however concurrently SQS delivers it',
  async () => {
    const planned = (await plan(
      {
        executionId: `arn:exec:${randomUUID()}`,
        request: executionRequest({ batchSize: BATCH }),
      },
      context,
    )) as { jobId: string; batchesTotal: number };
    const { jobId } = planned;
    const { rows: batchRows } = await db.sql.query<{ seq: number }>(
      'SELECT seq FROM rekey_job_batches WHERE job_id = $1::uuid ORDER BY seq',
      [jobId],
    );
    const batchIds = batchRows.map((b) => `${VAULT}#${b.seq}`);

    const random = seededRandom(42);
    const stats = { deliveries: 0, concurrentCopies: 0, redeliveredAfterTimeout: 0, heldPastTimeout: 0 };
    const inFlight = new Map<string, number>();
    const source = new SqsEventSource({
      client: sqs,
      queueUrl,
      maxConcurrency: 4,
      batchSize: 1,
      retryDelaySeconds: 1,
      handler: async (event: SQSEvent) => {
        const ids = event.Records.map((r) => (JSON.parse(r.body) as { batchId: string }).batchId);
        for (const r of event.Records) {
          stats.deliveries++;
          if (Number(r.attributes.ApproximateReceiveCount) > 1) stats.redeliveredAfterTimeout++;
        }
        for (const id of ids) {
          if ((inFlight.get(id) ?? 0) > 0) stats.concurrentCopies++;
          inFlight.set(id, (inFlight.get(id) ?? 0) + 1);
        }
        try {
          const response = await worker(event, context);
          // A slow invocation: the visibility timeout expires before it returns, so SQS delivers the message again meanwhile.
          if (event.Records[0]!.attributes.ApproximateReceiveCount === '1' && random() < 0.1) {
            stats.heldPastTimeout++;
            await new Promise((r) => setTimeout(r, (VISIBILITY_SECONDS + 1) * 1000));
          }
          return response as never;
        } finally {
          for (const id of ids) inFlight.set(id, inFlight.get(id)! - 1);
        }
      },
    });
    let sent = await sendTwice(jobId, batchIds);
    // The worker's Powertools log lines (its logger level is fixed at import) would flood the test output.
    const mute = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await source.start();
    try {
      const drain = async (): Promise<void> => {
        for (let i = 0; i < 1200 && (await depth()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      };
      await drain();
      const { rows: afterFirst } = await db.sql.query<{ n: string }>(
        `SELECT count(*) AS n FROM rekey_job_batches WHERE job_id = $1::uuid AND status <> 'done'`,
        [jobId],
      );
      expect(afterFirst[0]!.n).toBe('0');
      // A late redelivery of everything, twice, after the batches are done.
      sent += await sendTwice(jobId, batchIds);
      await drain();
    } finally {
      await source.stop();
      mute.mockRestore();
    }

    const { rows: writes } = await db.sql.query<{ once: string; twice: string }>(
      `SELECT count(*) FILTER (WHERE n = 1) AS once, count(*) FILTER (WHERE n > 1) AS twice FROM (SELECT id, count(*) AS n FROM vault_writes GROUP BY id) w`,
    );
    const { rows: jobs } = await db.sql.query<Record<string, string>>(
      `SELECT rows_done::text, rows_skipped::text, batches_done::text, batches_total::text,
            (SELECT sum(rows_done) FROM rekey_job_batches WHERE job_id = $1::uuid)::text AS batch_rows,
            (SELECT count(*) FROM rekey_job_batches WHERE job_id = $1::uuid AND attempts > 1)::text AS claimed_twice
       FROM rekey_jobs WHERE id = $1::uuid`,
      [jobId],
    );
    const job = jobs[0]!;
    const expected = new Map(Array.from({ length: ROWS }, (_, i) => [i + 1, valueOf(i + 1)] as const));
    const check = await checkVault(db.sql, await vault.library(1), expected, 'kek-1');
    const changedTwice = Number(writes[0]!.twice);
    const countedTwice = Number(job.rows_done) - ROWS + (Number(job.batches_done) - batchIds.length);

    recordFigure({
      area: 'Duplicate delivery',
      figure: `deliveries of ${batchIds.length} batch messages (each sent 4 times) / copies delivered while another copy ran / redeliveries after the visibility timeout`,
      value: `${stats.deliveries} / ${stats.concurrentCopies} / ${stats.redeliveredAfterTimeout} (${stats.heldPastTimeout} invocations outlived the timeout; ${source.stats.failures} deliveries met a live lease and were redelivered)`,
      goal: `≥ ${sent} deliveries`,
    });
    recordFigure({
      area: 'Duplicate delivery',
      figure: 'rows changed twice / rows counted twice',
      value: `${changedTwice} / ${countedTwice}`,
      goal: '0 / 0',
    });
    recordFigure({
      area: 'Duplicate delivery',
      figure: 'batches run twice (claimed more than once)',
      value: `${job.claimed_twice} of ${batchIds.length}`,
      goal: '0',
    });
    recordFigure({
      area: 'Duplicate delivery',
      figure: 'rows lost / changed / undecryptable / not under the new key',
      value: `${check.lost} / ${check.changed} / ${check.undecryptable} / ${check.notUnderTarget} of ${ROWS.toLocaleString('en-US')}`,
      goal: '0 / 0 / 0 / 0',
    });

    expect(stats.deliveries).toBeGreaterThanOrEqual(sent);
    expect(stats.concurrentCopies).toBeGreaterThan(0);
    expect(stats.redeliveredAfterTimeout).toBeGreaterThan(0);
    // The batch paused in its transaction past the visibility timeout: its redelivery met the live lease.
    expect(source.stats.failures).toBeGreaterThan(0);
    expect({ changedTwice, countedTwice, claimedTwice: job.claimed_twice, writtenOnce: writes[0]!.once }).toEqual({
      changedTwice: 0,
      countedTwice: 0,
      claimedTwice: '0',
      writtenOnce: String(ROWS),
    });
    expect(job).toMatchObject({
      rows_done: String(ROWS),
      rows_skipped: '0',
      batches_done: String(batchIds.length),
      batch_rows: String(ROWS),
    });
    expect(check).toMatchObject({ lost: 0, changed: 0, undecryptable: 0, notUnderTarget: 0 });
  },
  sized(180_000, 600_000),
);
