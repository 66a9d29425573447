import { InjectedFaultError } from '../../../functions/core/reencrypt/errors';
import { runJob, startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { getJob, listBatches, listRowErrors } from '../../../functions/core/reencrypt/store/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { engine, readSecrets, rotationWorld, seedSecrets, type World } from './support/fixtures';
import { seededRandom } from '../../support/random';

/**
 * Kill the job at random points — while planning, inside batches before and
 * after their commit, between the compare-and-swap and the commit, while
 * verifying — abandoning leases each time, then resume it until it finishes.
 * The end state must equal that of an uninterrupted run of the same job on a
 * twin table with the same plaintexts.
 */
let db: TestDatabase;
const N = 1200;
const registry = parseRegistry({
  tables: [
    { name: 'secrets', idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' },
    { name: 'twin', idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' },
  ],
});

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 8 });
});
afterAll(async () => {
  await db.drop();
});

/** Plaintext and key of every value, and the job's counters: what must not depend on crashes. */
async function endState(world: World, table: string, jobId: string) {
  const rows = [...(await readSecrets(db.sql, world, table)).entries()].map(([id, r]) => ({ id, ...r }));
  const job = await getJob(db.sql, jobId);
  const batches = await listBatches(db.sql, jobId);
  return {
    rows,
    status: job.status,
    counters: job.counters,
    batches: batches.map((b) => ({
      seq: b.seq,
      lo: b.lo,
      hi: b.hi,
      status: b.status,
      done: b.rowsDone,
      failed: b.rowsFailed,
      skipped: b.rowsSkipped,
    })),
    rowErrors: (await listRowErrors(db.sql, jobId)).length,
  };
}

describe.each([
  ['rewrap', 11],
  ['reencrypt', 23],
  ['rewrap', 37],
] as const)('a %s job killed at random points (seed %i)', (mode, seed) => {
  it('resumes to the same end state as an uninterrupted run', async () => {
    const world = await rotationWorld(db.sql);
    await db.sql.query('DROP TABLE IF EXISTS secrets, twin');
    await seedSecrets(db.sql, world, N, 'secrets');
    await seedSecrets(db.sql, world, N, 'twin');

    // The reference: an uninterrupted run on the twin table (retire off: it would retire kek-v1 while `secrets` still uses it).
    const reference = await startJob(
      engine(db, world, registry),
      { mode, targetKeyId: 'kek-v2', tables: ['twin'], batchSize: 100, requestedBy: 'test' },
      { concurrency: 2, retire: false },
    );
    expect(reference.job.status).toBe('completed');

    const random = seededRandom(seed);
    const points = new Map<string, number>();
    const faults = (point: string): void => {
      if (random() < 0.08) {
        points.set(point, (points.get(point) ?? 0) + 1);
        throw new InjectedFaultError(point);
      }
    };
    const deps = engine(db, world, registry, { faults, leaseMs: 25 });
    const job = await createJob(deps, {
      mode,
      targetKeyId: 'kek-v2',
      tables: ['secrets'],
      batchSize: 100,
      requestedBy: 'test',
    });
    let crashes = 0;
    for (let attempt = 0; ; attempt++) {
      expect(attempt).toBeLessThan(200);
      try {
        const outcome = await runJob(deps, job.id, { concurrency: 2, pollMs: 10, retire: false });
        expect(outcome.job.status).toBe('completed');
        break;
      } catch (err) {
        if (!(err instanceof InjectedFaultError)) throw err;
        crashes++;
      }
    }
    expect(crashes).toBeGreaterThanOrEqual(3);
    expect(points.size).toBeGreaterThanOrEqual(3); // crashes hit several different places

    const crashed = await endState(world, 'secrets', job.id);
    const clean = await endState(world, 'twin', reference.job.id);
    expect(crashed.status).toBe('completed');
    expect(crashed.counters).toEqual(clean.counters);
    expect(crashed.batches).toEqual(clean.batches);
    expect(crashed.rowErrors).toBe(0);
    expect(crashed.rows).toEqual(clean.rows);
    expect(crashed.rows.every((r) => r.token !== null && r.tokenKey === 'kek-v2')).toBe(true);
  });
});

describe('two runners of one job at once (a run and a --resume beside it)', () => {
  it.each([1, 2, 3])('both end with the same finished job, the old key retired once (round %i)', async () => {
    requireRealPostgres('two runners of one job at once on their own connections');
    const world = await rotationWorld(db.sql);
    await db.sql.query('DROP TABLE IF EXISTS secrets, twin');
    await seedSecrets(db.sql, world, 400, 'secrets');
    await seedSecrets(db.sql, world, 10, 'twin');
    const deps = engine(db, world, registry);
    const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 50, requestedBy: 'test' });
    await planJob(deps, job.id);
    const [a, b] = await Promise.all([
      runJob(deps, job.id, { concurrency: 2, pollMs: 5 }),
      runJob(deps, job.id, { concurrency: 2, pollMs: 5 }),
    ]);
    expect([a.job.status, b.job.status]).toEqual(['completed', 'completed']);
    const finished = await getJob(db.sql, job.id);
    expect(finished.counters.rowsDone).toBe(410);
    expect(finished.retiredKeyIds).toEqual(['kek-v1']);
    const retirements = await db.sql.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM rekey_audit_log WHERE action = 'key.retired' AND subject LIKE '%kek-v1%'`,
    );
    expect(Number(retirements.rows[0]!.n)).toBe(1);
  });
});
