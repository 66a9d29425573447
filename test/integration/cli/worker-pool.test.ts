import { startBatchWorkers } from '../../../functions/cli/worker-pool';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { seedCliFixture, TABLE, type CliFixture } from './fixture';

/**
 * The worker threads of `--concurrency N` (and of the bench) claim batches
 * until none is left, then exit by themselves: a thread that lingers keeps
 * its process alive after the work is done.
 */
describe('batch worker threads', () => {
  let db: TestDatabase;
  let fx: CliFixture;

  beforeAll(async () => {
    requireRealPostgres('worker threads claim batches on their own connections at once');
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, 300);
  });
  afterAll(async () => {
    fx.dispose();
    await db.drop();
  });

  it('run every batch of a planned job, report done, and exit without being terminated', async () => {
    expect((await fx.rekey('keys', 'list')).code).toBe(0); // registers the keyring's keys in the catalog
    const { createJob, planJob } = await import('../../../functions/core/reencrypt/jobs/jobs');
    const { createEngineRuntime } = await import('../../../functions/runtime/engine-runtime');
    const runtime = await createEngineRuntime({
      env: fx.env,
      databaseUrl: db.url,
      registry: parseRegistry({ tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] }),
      actor: 'test',
      syncCatalog: false,
    });
    try {
      const job = await createJob(runtime.deps, {
        mode: 'rewrap',
        targetKeyId: 'kek-v2',
        batchSize: 50,
        requestedBy: 'test',
      });
      await planJob(runtime.deps, job.id);
      const pool = startBatchWorkers(2, {
        jobId: job.id,
        databaseUrl: db.url,
        registryJson: JSON.stringify(runtime.registry),
        env: Object.fromEntries(Object.entries(fx.env).filter((e): e is [string, string] => typeof e[1] === 'string')),
        actor: 'test',
      });
      try {
        await pool.finished;
        const timeout = new Promise<'lingering'>((resolve) => setTimeout(() => resolve('lingering'), 10_000).unref());
        expect(await Promise.race([pool.exited.then(() => 'exited' as const), timeout])).toBe('exited');
      } finally {
        await pool.terminate(); // a lingering thread fails the test, not the whole run
      }
      const batches = await db.sql.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM rekey_job_batches WHERE job_id = $1::uuid AND status = 'done'`,
        [job.id],
      );
      expect(Number(batches.rows[0]!.n)).toBe(6);
    } finally {
      await runtime.close();
    }
  });
});
