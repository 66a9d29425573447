import { executeBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import {
  abortJob,
  finalizeJob,
  jobProgress,
  markJobFailed,
  settleBatchPhase,
  verifyJob,
} from '../../../functions/core/reencrypt/jobs/job-phases';
import { batchIdOf, parseBatchId } from '../../../functions/core/reencrypt/store/batch-ids';
import {
  batchesToEnqueue,
  countBatchesToEnqueue,
  markBatchesEnqueued,
} from '../../../functions/core/reencrypt/store/batches-table';
import { findJobByExecution, getJob } from '../../../functions/core/reencrypt/store/jobs-table';
import { finish } from '../../../functions/core/reencrypt/jobs/job-endings';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import type { Sql } from '../../../functions/core/ports/sql';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, rotationWorld, seedSecrets } from './support/fixtures';

/**
 * The engine driven the way the state machine drives it: one call per task,
 * each retried at least once, with queue messages carrying `{jobId, batchId}`.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 8 });
});
afterAll(async () => {
  await db.drop();
});

it('plan, enqueue, work, progress, verify and finalize, each step safe to repeat', async () => {
  const world = await rotationWorld(db.sql);
  await seedSecrets(db.sql, world, 450);
  const deps = engine(db, world);
  const request = {
    mode: 'rewrap' as const,
    targetKeyId: 'kek-v2',
    batchSize: 100,
    requestedBy: 'state-machine',
    executionId: 'arn:exec:1',
  };

  const job = await createJob(deps, request);
  expect((await createJob(deps, request)).id).toBe(job.id); // a retried Plan task finds the same job
  expect((await findJobByExecution(db.sql, 'arn:exec:1'))?.id).toBe(job.id);
  const plan = await planJob(deps, job.id);
  expect(plan).toMatchObject({
    planned: true,
    summary: [{ table: 'secrets', rowsTotal: 450, rowsPending: 450, batches: 5 }],
  });
  expect(await planJob(deps, job.id)).toMatchObject({
    planned: false,
    summary: plan.summary,
    job: { counters: { batchesTotal: 5 } },
  });

  // Enqueue in chunks of 3; a resend of a chunk is harmless.
  const sent: string[] = [];
  while ((await countBatchesToEnqueue(db.sql, job.id)) > 0) {
    const refs = await batchesToEnqueue(db.sql, job.id, 3);
    sent.push(...refs.map(batchIdOf));
    expect(await markBatchesEnqueued(db.sql, job.id, refs)).toBe(refs.length);
  }
  expect(sent).toEqual(['secrets#0', 'secrets#1', 'secrets#2', 'secrets#3', 'secrets#4']);
  expect(parseBatchId('app.secrets#12')).toEqual({ table: 'app.secrets', seq: 12 });
  expect(parseBatchId('secrets#-1')).toBeUndefined();
  await expect(executeBatch(deps, job.id, 'secrets;#1')).rejects.toMatchObject({ code: 'BATCH_NOT_FOUND' });

  let progress = await jobProgress(deps, job.id);
  expect(progress).toMatchObject({ batchesRemaining: 5, errorRate: 0, shouldAbort: false });
  expect((await settleBatchPhase(deps, job.id)).settled).toBe(false);

  // Workers, with one message delivered twice.
  for (const id of [...sent, sent[2]!]) await executeBatch(deps, job.id, id);
  progress = await jobProgress(deps, job.id);
  expect(progress).toMatchObject({ batchesRemaining: 0, job: { counters: { rowsDone: 450, batchesDone: 5 } } });

  expect((await settleBatchPhase(deps, job.id)).job.status).toBe('verifying');
  expect((await settleBatchPhase(deps, job.id)).job.status).toBe('verifying');
  const verified = await verifyJob(deps, job.id);
  expect(verified).toMatchObject({ clean: true, rowsOnOldKeys: 0, rowsFailed: 0, job: { status: 'verifying' } });
  const finalized = await finalizeJob(deps, job.id);
  expect(finalized.job).toMatchObject({ status: 'completed', retiredKeyIds: ['kek-v1'] });
  expect(await world.status('kek-v1')).toBe('retired');
  // Retried Finalize and Verify tasks: nothing changes, the answers stay.
  expect((await finalizeJob(deps, job.id)).job).toMatchObject({ status: 'completed', retiredKeyIds: ['kek-v1'] });
  expect(await verifyJob(deps, job.id)).toMatchObject({ clean: true, rowsOnOldKeys: 0, job: { status: 'completed' } });
  // MarkFailed after the end leaves the job alone.
  expect((await markJobFailed(deps, job.id, 'States.Timeout')).status).toBe('completed');
});

it('abort and mark-failed are idempotent and refuse nonsense', async () => {
  const world = await rotationWorld(db.sql);
  await db.sql.query('DROP TABLE IF EXISTS secrets');
  await seedSecrets(db.sql, world, 50);
  const deps = engine(db, world);
  const a = await createJob(deps, {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    requestedBy: 'sm',
    executionId: 'arn:exec:2',
  });
  await planJob(deps, a.id);
  const aborted = await abortJob(deps, a.id, 'error rate 3 % above 1 %');
  expect(aborted).toMatchObject({ status: 'aborted', error: 'error rate 3 % above 1 %' });
  expect(await abortJob(deps, a.id)).toMatchObject({ status: 'aborted' });
  expect(await executeBatch(deps, a.id, 'secrets#0')).toMatchObject({ outcome: 'job-not-running' });

  const b = await createJob(deps, {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    requestedBy: 'sm',
    executionId: 'arn:exec:3',
  });
  expect(await markJobFailed(deps, b.id, 'RegistryError')).toMatchObject({ status: 'failed', error: 'RegistryError' });
  await expect(verifyJob(deps, b.id)).rejects.toMatchObject({ code: 'JOB_STATE' });
  await expect(abortJob(deps, b.id)).rejects.toMatchObject({ code: 'JOB_STATE' });
  expect(await world.actions()).toEqual(['job.created', 'job.planned', 'job.aborted', 'job.created', 'job.failed']);
});

/**
 * A planned and enqueued rewrap job over `rows` fresh secrets; `damage` runs
 * on the table before the job is planned.
 */
async function enqueuedRewrap(
  rows: number,
  request: { executionId: string; batchSize?: number; maxErrorRate?: number },
  damage?: () => Promise<unknown>,
) {
  const world = await rotationWorld(db.sql);
  await db.sql.query('DROP TABLE IF EXISTS secrets');
  await seedSecrets(db.sql, world, rows);
  await damage?.();
  const deps = engine(db, world);
  const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'sm', ...request });
  await planJob(deps, job.id);
  await markBatchesEnqueued(db.sql, job.id, await batchesToEnqueue(db.sql, job.id, 10));
  return { deps, job };
}

it('a batch finishing while the batch phase settles is counted before the final error-rate judgement', async () => {
  // One damaged value in the first batch: 1 failed row of 200 is exactly the 0.5 % allowed, 1 of 100 is not.
  const { deps, job } = await enqueuedRewrap(
    200,
    { executionId: 'arn:exec:settle-race', batchSize: 100, maxErrorRate: 0.005 },
    () => db.sql.query(`UPDATE secrets SET token = $1 WHERE id = 5`, [`rk1:${'A'.repeat(80)}`]),
  );
  expect(await executeBatch(deps, job.id, 'secrets#0')).toMatchObject({ outcome: 'done' });

  // The last batch commits between settleBatchPhase's first and second read, as a worker does on AWS.
  let raced = false;
  const racing: Sql = {
    query: async (text, params) => {
      const result = await db.sql.query(text, params);
      if (!raced) {
        raced = true;
        await executeBatch(deps, job.id, 'secrets#1');
      }
      return result as never;
    },
    transaction: (fn) => db.sql.transaction(fn),
  };
  let phase = await settleBatchPhase({ ...deps, sql: racing }, job.id);
  expect(raced).toBe(true);
  if (!phase.settled) phase = await settleBatchPhase(deps, job.id);
  expect(phase.job).toMatchObject({
    status: 'verifying',
    counters: { rowsFailed: 1, rowsDone: 199 },
  });
});

it('a finisher that retired a key but lost the race to end the job records the key on the job', async () => {
  const { deps, job } = await enqueuedRewrap(20, { executionId: 'arn:exec:finish-race' });
  await executeBatch(deps, job.id, 'secrets#0');
  expect((await settleBatchPhase(deps, job.id)).job.status).toBe('verifying');
  const verifying = (await verifyJob(deps, job.id)).job;

  // Runner A retires kek-v1; runner B, finding it already retired, ends the job first with nothing retired.
  const byB = await finish(deps, verifying, 'completed', [], { retired: [], kept: [] });
  expect(byB.retiredKeyIds).toEqual([]);
  const byA = await finish(deps, verifying, 'completed', [], { retired: ['kek-v1'], kept: [] });
  expect(byA).toMatchObject({ status: 'completed', retiredKeyIds: ['kek-v1'] });
  expect((await getJob(db.sql, job.id)).retiredKeyIds).toEqual(['kek-v1']);
  // A third finisher with the same key changes nothing.
  expect((await finish(deps, verifying, 'completed', [], { retired: ['kek-v1'], kept: [] })).retiredKeyIds).toEqual([
    'kek-v1',
  ]);
});
