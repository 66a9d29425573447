import { planStep, progressStep, verifyStep } from '../../../functions/core/pipeline/steps';
import { executeClaimedBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import { claimNextBatch } from '../../../functions/core/reencrypt/store/batch-leases';
import { getJob } from '../../../functions/core/reencrypt/store/jobs-table';
import { type EngineRuntime } from '../../../functions/runtime/engine-runtime';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { executionRequest } from '../../support/execution-input';
import { rewrapTableRuntime } from './support/rewrap-table';
import { PROGRESS_DEFAULTS } from '../../../lib/defaults';

/**
 * CheckProgress must never let the state machine reach Verify while a worker
 * still holds a batch: the batch phase decides, even when the last batch
 * finishes between the two reads.
 */
describe('CheckProgress step', () => {
  let db: TestDatabase;
  let runtime: EngineRuntime;
  const wait = PROGRESS_DEFAULTS; // the pacing the state machine passes by default

  beforeEach(async () => {
    db = await migratedDatabase();
    runtime = await rewrapTableRuntime(db.sql, 40);
  });
  afterEach(async () => {
    await db.drop();
  });

  it('reports a leased batch as remaining, then settles the job for Verify once all are done', async () => {
    const request = executionRequest({ batchSize: 20 });
    const { jobId } = await planStep(runtime.deps, 'arn:exec:progress', request, () => runtime.primaryKeyId());
    const first = (await claimNextBatch(db.sql, jobId, 'w1', 60_000, 5))!;
    await executeClaimedBatch({ ...runtime.deps, worker: 'w1' }, first);
    const second = (await claimNextBatch(db.sql, jobId, 'w2', 60_000, 5))!; // leased by a worker, not finished

    const during = await progressStep(runtime.deps, jobId, wait);
    expect(during.batchesRemaining).toBeGreaterThanOrEqual(1);
    expect((await getJob(db.sql, jobId)).status).toBe('running');

    await executeClaimedBatch({ ...runtime.deps, worker: 'w2' }, second);
    const after = await progressStep(runtime.deps, jobId, wait);
    expect(after).toMatchObject({ batchesRemaining: 0, rowsDone: 40, rowsFailed: 0, errorRate: 0 });
    expect((await getJob(db.sql, jobId)).status).toBe('verifying');
    await expect(verifyStep(runtime.deps, jobId)).resolves.toEqual({ rowsOnOldKeys: 0, rowsFailed: 0 });
  });
});
