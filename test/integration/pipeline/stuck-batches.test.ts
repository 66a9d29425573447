import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsQueues } from '../../../functions/core/adapters/aws-sqs';
import { BatchesStuckError } from '../../../functions/core/pipeline/errors';
import { planStep, progressStep } from '../../../functions/core/pipeline/steps';
import { findStuckBatches } from '../../../functions/core/pipeline/stuck-batches';
import { executeClaimedBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import { claimNextBatch } from '../../../functions/core/reencrypt/store/batch-leases';
import { getJob } from '../../../functions/core/reencrypt/store/jobs-table';
import { createPipelineQueues, type PipelineQueues } from '../../../functions/local/pipeline';
import { type EngineRuntime } from '../../../functions/runtime/engine-runtime';
import { awsClientConfig } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { executionRequest } from '../../support/execution-input';
import { rewrapTableRuntime } from './support/rewrap-table';
import { PROGRESS_DEFAULTS } from '../../../lib/defaults';

/**
 * findStuckBatches on PostgreSQL and SQS in moto: each condition that keeps a
 * job from being called stuck, one at a time (a healthy job — even one whose
 * batches all wait in the queue — never is), and the DLQ left untouched by
 * the look.
 */
describe('stuck batch detection', () => {
  let db: TestDatabase;
  let runtime: EngineRuntime;
  let sqs: SQSClient;
  let queues: SqsQueues;
  let urls: PipelineQueues;
  let jobId: string;
  const wait = PROGRESS_DEFAULTS; // the pacing the state machine passes by default

  beforeEach(async () => {
    db = await migratedDatabase();
    runtime = await rewrapTableRuntime(db.sql, 40);
    sqs = new SQSClient(awsClientConfig());
    queues = new SqsQueues(sqs);
    urls = await createPipelineQueues(sqs);
    const request = executionRequest();
    ({ jobId } = await planStep(runtime.deps, 'arn:exec:stuck', request, () => runtime.primaryKeyId()));
    await db.sql.query('UPDATE rekey_job_batches SET enqueued_at = now() WHERE job_id = $1', [jobId]);
  });
  afterEach(async () => {
    sqs.destroy();
    await db.drop();
  });

  const options = (quietSeconds = 0) => ({
    deadLetterQueueUrl: urls.deadLetterQueueUrl,
    queueUrl: urls.queueUrl,
    quietSeconds,
  });
  const message = (id: string, batch: string) => JSON.stringify({ jobId: id, batchId: batch });
  const dlqDepth = async () => queues.depth(urls.deadLetterQueueUrl);

  it("names the job's batches in the DLQ, leaving the messages there", async () => {
    await queues.send(urls.deadLetterQueueUrl, [
      message(jobId, 's#1'),
      message(jobId, 's#3'),
      'not json',
      message('00000000-0000-4000-8000-000000000000', 's#0'),
    ]);
    const stuck = await findStuckBatches(db.sql, queues, jobId, options());
    expect(stuck).toMatchObject({ jobId, batchIds: ['s#1', 's#3'] });
    expect(await dlqDepth()).toEqual({ visible: 4, inFlight: 0 }); // read and released, nothing consumed
  });

  it('a healthy job whose batches all wait in the queue is not stuck, whatever the DLQ holds', async () => {
    await queues.send(urls.queueUrl, [message(jobId, 's#0'), message(jobId, 's#2')]);
    await queues.send(urls.deadLetterQueueUrl, [message(jobId, 's#1')]);
    expect(await findStuckBatches(db.sql, queues, jobId, options())).toBeNull();
  });

  it('is not stuck while a worker holds a lease, nor before the quiet window, nor for batches already done', async () => {
    await queues.send(urls.deadLetterQueueUrl, [message(jobId, 's#0')]);
    const batch = (await claimNextBatch(db.sql, jobId, 'w1', 60_000, 5))!;
    expect(batch.seq).toBe(0);
    expect(await findStuckBatches(db.sql, queues, jobId, options())).toBeNull(); // leased
    await executeClaimedBatch({ ...runtime.deps, worker: 'w1' }, batch);
    expect(await findStuckBatches(db.sql, queues, jobId, options())).toBeNull(); // s#0 is done now
    await queues.send(urls.deadLetterQueueUrl, [message(jobId, 's#2')]);
    expect(await findStuckBatches(db.sql, queues, jobId, options(3600))).toBeNull(); // activity just now
    expect(await findStuckBatches(db.sql, queues, jobId, options(0))).toMatchObject({ batchIds: ['s#2'] });
  });

  it("only other jobs' messages in the DLQ: not stuck", async () => {
    await queues.send(urls.deadLetterQueueUrl, [message('00000000-0000-4000-8000-000000000000', 's#0')]);
    expect(await findStuckBatches(db.sql, queues, jobId, options())).toBeNull();
    expect(await dlqDepth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('a queue CheckProgress cannot read (no such queue, a grant missing) skips the check instead of failing a working job', async () => {
    const gone = urls.deadLetterQueueUrl.replace(/rekey-dlq-/, 'rekey-gone-');
    const p = await progressStep(runtime.deps, jobId, wait, Date.now(), {
      queues,
      deadLetterQueueUrl: gone,
      queueUrl: gone,
      quietSeconds: 0,
    });
    expect(p.batchesRemaining).toBe(4);
    expect(p.stuckCheckError).toMatch(/^sqs:GetQueueAttributes on .*rekey-gone-.* failed \(/);
    expect((await getJob(db.sql, jobId)).status).toBe('running');
  });

  it('CheckProgress fails the stuck job with the cause on the job row, and keeps polling a healthy one', async () => {
    const stuck = { queues, ...options() };
    await expect(progressStep(runtime.deps, jobId, wait, Date.now(), stuck)).resolves.toMatchObject({
      batchesRemaining: 4,
    });
    await queues.send(urls.deadLetterQueueUrl, [message(jobId, 's#2')]);
    const err = await progressStep(runtime.deps, jobId, wait, Date.now(), stuck).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchesStuckError);
    expect((err as BatchesStuckError).batchIds).toEqual(['s#2']);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^job ${jobId} is stuck: 1 batch\\(es\\) \\(s#2\\) are in the dead-letter queue .* rekey redrive ${jobId}$`,
      ),
    );
    const job = await getJob(db.sql, jobId);
    expect(job.status).toBe('failed');
    expect(job.error).toBe((err as Error).message);
  });
});
