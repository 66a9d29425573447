import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import {
  createPipelineQueues,
  LOCAL_STATE_MACHINE_ARN,
  runLocalPipeline,
  type PipelineQueues,
} from '../../../functions/local/pipeline';
import { synthesizeStateMachineDefinition } from '../../../lib/synthesize-definition';
import { awsClientConfig, motoEndpoint } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { seedCliFixture, TABLE, type CliFixture } from '../cli/fixture';

/**
 * Stuck batches, end to end on the synthesized state machine, the real
 * handlers, SQS in moto and PostgreSQL: a worker that fails every delivery
 * sends the job's batch messages to the DLQ; CheckProgress fails the job with
 * a cause naming it, its batches and `rekey redrive` (through MarkFailed →
 * JobFailed, not after a 14-day wait); `rekey redrive` moves the messages back
 * and reopens the job; the resuming execution completes it and `rekey verify`
 * is clean.
 */
const ROWS = 600;
const BATCH = 100;
const registry = { tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] };
const definition = synthesizeStateMachineDefinition();

describe('stuck batches and rekey redrive (local pipeline)', () => {
  let db: TestDatabase;
  let fx: CliFixture;
  let sqs: SQSClient;
  let queues: PipelineQueues;
  const savedEndpoint = process.env.AWS_ENDPOINT_URL_SQS;

  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
    sqs = new SQSClient(awsClientConfig());
    queues = await createPipelineQueues(sqs);
    process.env.AWS_ENDPOINT_URL_SQS = motoEndpoint(); // the CLI's SQS client
  });

  afterEach(async () => {
    if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_SQS;
    else process.env.AWS_ENDPOINT_URL_SQS = savedEndpoint;
    sqs.destroy();
    fx.dispose();
    await db.drop();
  });

  const depth = async (url: string): Promise<number> => {
    const a = (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      )
    ).Attributes!;
    return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
  };
  const keyEnv = (): Record<string, string> => ({
    SECRETS_ENCRYPTION_KEY: fx.env.SECRETS_ENCRYPTION_KEY!,
    SECRETS_ENCRYPTION_KEY_PREVIOUS: fx.env.SECRETS_ENCRYPTION_KEY_PREVIOUS!,
  });

  it('a job whose batches reach the DLQ fails naming them and the redrive command; redrive resumes it to completion', async () => {
    // 1. Every delivery fails before the batch is claimed (the worker cannot reach the database, say).
    let workerCalls = 0;
    const stuck = await runLocalPipeline({
      input: { mode: 'rewrap', batchSize: BATCH },
      databaseUrl: db.url,
      sqsEndpoint: motoEndpoint(),
      registry,
      definition,
      keyEnv: keyEnv(),
      queues,
      stuckAfterSeconds: 2,
      wrap: (name, handler) =>
        name === 'Worker'
          ? async () => {
              workerCalls += 1;
              throw new Error('injected: the worker cannot reach the database');
            }
          : handler,
    });
    const { rows: jobs } = await db.sql.query<{ id: string; status: string; error: string }>(
      'SELECT id, status, error FROM rekey_jobs WHERE NOT dry_run',
    );
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    const batchIds = Array.from({ length: ROWS / BATCH }, (_, i) => `${TABLE}#${i}`).sort();

    expect(workerCalls).toBeGreaterThanOrEqual(ROWS / BATCH); // the fault really ran
    expect(stuck.error?.name).toBe('BatchesStuckError');
    expect(stuck.error?.message).toContain(`job ${job.id} is stuck: ${batchIds.length} batch(es)`);
    expect(stuck.error?.message).toContain(`rekey redrive ${job.id}`);
    expect(stuck.history.slice(-2)).toEqual(['MarkFailed', 'JobFailed']);
    expect(stuck.history).not.toContain('Verify');
    expect(job.status).toBe('failed');
    expect(job.error).toContain(`rekey redrive ${job.id}`);
    expect(job.error).toContain(batchIds.slice(0, 5).join(', '));
    expect(await depth(queues.deadLetterQueueUrl)).toBe(batchIds.length);
    expect(await depth(queues.queueUrl)).toBe(0);
    const onKeys = async (): Promise<Record<string, number>> => {
      const { rows } = await db.sql.query<{ v: string }>(`SELECT api_key_encrypted AS v FROM ${TABLE}`);
      const counts: Record<string, number> = {};
      for (const r of rows) counts[peekKeyId(r.v)] = (counts[peekKeyId(r.v)] ?? 0) + 1;
      return counts;
    };
    expect(await onKeys()).toEqual({ 'kek-v1': ROWS });

    // 2. rekey redrive: the messages go back, the job reopens for the execution that resumes it.
    const redrive = await fx.rekey(
      'redrive',
      job.id,
      '--json',
      '--queue-url',
      queues.queueUrl,
      '--dead-letter-queue-url',
      queues.deadLetterQueueUrl,
      '--state-machine-arn',
      LOCAL_STATE_MACHINE_ARN,
      '--no-start', // the local runner below plays Step Functions
    );
    expect(redrive.err).toBe('');
    expect(redrive.code).toBe(0);
    const report = JSON.parse(redrive.out) as {
      status: string;
      movedFromDeadLetterQueue: number;
      batchIds: string[];
      execution: { name: string; arn: string; started: boolean; input: unknown };
    };
    expect(report).toMatchObject({
      status: 'running',
      movedFromDeadLetterQueue: batchIds.length,
      batchIds,
      execution: { started: false },
    });
    expect(await depth(queues.deadLetterQueueUrl)).toBe(0);
    expect(await depth(queues.queueUrl)).toBe(batchIds.length);
    const reopened = await db.sql.query<{ status: string; execution_id: string; error: string | null }>(
      'SELECT status, execution_id, error FROM rekey_jobs WHERE id = $1',
      [job.id],
    );
    expect(reopened.rows[0]).toEqual({ status: 'running', execution_id: report.execution.arn, error: null });

    // 3. The resuming execution (the input and name redrive printed) finishes the same job.
    const resumed = await runLocalPipeline({
      input: report.execution.input,
      executionName: report.execution.name,
      databaseUrl: db.url,
      sqsEndpoint: motoEndpoint(),
      registry,
      definition,
      keyEnv: keyEnv(),
      queues,
      stuckAfterSeconds: 2,
    });
    expect(resumed.error).toBeUndefined();
    expect(resumed.history.at(-1)).toBe('Completed');
    expect(resumed.worker.messages).toBe(batchIds.length); // the redriven messages; Enqueue sent nothing new
    expect(resumed.deadLetters).toBe(0);
    const after = await db.sql.query<{ id: string; status: string; rows_done: string }>(
      'SELECT id, status, rows_done FROM rekey_jobs WHERE NOT dry_run',
    );
    expect(after.rows).toEqual([{ id: job.id, status: 'completed', rows_done: String(ROWS) }]);
    expect(await onKeys()).toEqual({ 'kek-v2': ROWS });
    const verify = await fx.rekey('verify');
    expect(verify.code).toBe(0);
    fx.assertNoSecrets(
      redrive.out + verify.out + verify.err + JSON.stringify(stuck) + JSON.stringify(resumed.taskOutputs),
    );
  }, 120_000);
});
