import { createPgLiveness } from '../../../functions/core/adapters/pg/liveness';
import { describeForeignLease, takeOverDeadLeases } from '../../../functions/core/reencrypt/jobs/lease-takeover';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';

/**
 * Liveness locks and dead-lease takeover (reencrypt/lease-takeover.ts,
 * adapters/pg/liveness.ts) on a real server: a holder whose liveness lock is
 * held is alive and keeps its leases; once its session is gone its leases
 * are expired at once for takeover; a holder that never held a lock (a
 * Lambda worker) is waited for. The SIGKILL trials of the reliability suite
 * (test/reliability/crash-kill.test.ts) exercise the same through real processes.
 */
let db: TestDatabase;

beforeAll(async () => {
  requireRealPostgres('liveness locks live on sessions of their own');
  db = await migratedDatabase({ poolSize: 2 });
});
afterAll(async () => {
  await db?.drop();
});

async function jobWithLeases(holders: readonly string[]): Promise<string> {
  const { rows } = await db.sql.query<{ id: string }>(
    `INSERT INTO rekey_jobs (mode, dry_run, tables, target_key_id, batch_size, max_error_rate, abort_min_rows, requested_by, options, status)
     VALUES ('rewrap', false, ARRAY['t'], 'kek-2', 10, 0.01, 100, 'test', '{}'::jsonb, 'pending') RETURNING id::text`,
  );
  const jobId = rows[0]!.id;
  for (const [seq, worker] of holders.entries()) {
    await db.sql.query(
      `INSERT INTO rekey_job_batches (job_id, table_name, seq, pass, lo, hi, id_type, rows_planned, status, worker, attempts, lease_until)
       VALUES ($1::uuid, 't', $2, 1, NULL, NULL, 'bigint', 10, 'running', $3, 1, now() + interval '5 minutes')`,
      [jobId, seq, worker],
    );
  }
  return jobId;
}

it("keeps a live holder's leases, takes a gone holder's over at once, and waits for a holder that cannot prove anything", async () => {
  const liveness = createPgLiveness({ connectionString: db.url });
  const alive = await liveness.hold('runner-a');
  const dying = await liveness.hold('runner-b');
  expect(alive.worker).toBe('live:runner-a');
  const jobId = await jobWithLeases([alive.worker, alive.worker, dying.worker, 'lambda-worker-1']);
  await dying.release(); // its session ends, as a killed process's does

  const leases = await takeOverDeadLeases(db.sql, jobId, 'live:me');
  expect(leases.map((l) => [l.worker, l.batches, l.state])).toEqual([
    ['lambda-worker-1', 1, 'unknown'],
    ['live:runner-a', 2, 'alive'],
    ['live:runner-b', 1, 'gone'],
  ]);
  const { rows } = await db.sql.query<{ worker: string; expired: boolean }>(
    'SELECT worker, lease_until < now() AS expired FROM rekey_job_batches WHERE job_id = $1::uuid ORDER BY seq',
    [jobId],
  );
  expect(rows.map((r) => [r.worker, r.expired])).toEqual([
    ['live:runner-a', false],
    ['live:runner-a', false],
    ['live:runner-b', true],
    ['lambda-worker-1', false],
  ]);
  expect(describeForeignLease(leases[2]!)).toMatch(
    /^1 batch\(es\) leased by live:runner-b until \d{4}-\d\d-\d\dT[\d:.]+Z: that runner is gone \(its liveness lock is free\); taking them over now$/,
  );
  expect(describeForeignLease(leases[0]!)).toContain(
    'cannot be proven gone (it holds no liveness lock); waiting until the lease expires',
  );

  // The checker's own leases are never its concern; a second look finds the gone holder's leases expired, not live.
  expect((await takeOverDeadLeases(db.sql, jobId, 'live:runner-a')).map((l) => l.worker)).toEqual(['lambda-worker-1']);
  await alive.release();
  await liveness.close();
});

it('gives two holds of one name in one process one lock, released with the last, and a second process another name', async () => {
  const one = createPgLiveness({ connectionString: db.url });
  const other = createPgLiveness({ connectionString: db.url }); // another process: its own sessions
  const a = await one.hold('same');
  const b = await one.hold('same');
  const c = await other.hold('same'); // the lock of `live:same` is taken: another name
  expect([a.worker, b.worker, c.worker]).toEqual(['live:same', 'live:same', 'live:same~1']);
  const jobId = await jobWithLeases([a.worker]);
  await a.release();
  expect((await takeOverDeadLeases(db.sql, jobId, 'x'))[0]!.state).toBe('alive');
  await b.release();
  expect((await takeOverDeadLeases(db.sql, jobId, 'x'))[0]!.state).toBe('gone');
  await c.release();
  await one.close();
  await other.close();
});
