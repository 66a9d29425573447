import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { executeBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import {
  BatchLeaseLostError,
  BatchNotFoundError,
  InjectedFaultError,
  JobNotFoundError,
} from '../../../functions/core/reencrypt/errors';
import { runJob, startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { getBatch, getJob, listBatches } from '../../../functions/core/reencrypt/store/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import type { Sql } from '../../../functions/core/ports/sql';
import { valueCryptoFrom } from '../../../functions/core/reencrypt/values/crypto-bridge';
import { planTable } from '../../../functions/core/reencrypt/batches/planner';
import { describeTable } from '../../../functions/core/reencrypt/sql/table-shape';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { verify } from '../../../functions/core/reencrypt/verify/verify';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import {
  ctxOf,
  engine,
  oldCipher,
  plaintextOf,
  readSecrets,
  rotationWorld,
  seedSecrets,
  tableDigest,
  type World,
} from './support/fixtures';

let db: TestDatabase;
let world: World;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 8 });
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  world = await rotationWorld(db.sql);
  await db.sql.query('DROP TABLE IF EXISTS secrets, tagged, uu, tx');
  await db.sql.query('TRUNCATE rekey_jobs CASCADE');
});

describe('re-encryption engine on PostgreSQL', () => {
  it('rewraps every row to the primary key, counts each row once, verifies and retires the old key', async () => {
    await seedSecrets(db.sql, world, 1050);
    const progress: number[] = [];
    const outcome = await startJob(
      engine(db, world),
      { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' },
      {
        concurrency: 3,
        onProgress: (p) => progress.push(p.batchesDone),
      },
    );
    expect(outcome.job.status).toBe('completed');
    expect(outcome.job.counters).toEqual({
      rowsTotal: 1050,
      rowsDone: 1050,
      rowsFailed: 0,
      rowsSkipped: 0,
      rowsConflicted: 0,
      batchesTotal: 11,
      batchesDone: 11,
    });
    expect(progress.sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(outcome.job.sourceKeyIds).toEqual(['kek-v1']);
    expect(outcome.verify?.allOnTarget).toBe(true);
    expect(outcome.verify?.keys).toEqual({ 'kek-v2': 1050 + 945 });
    expect(outcome.retire?.retired).toEqual(['kek-v1']);
    expect(await world.status('kek-v1')).toBe('retired');
    const rows = await readSecrets(db.sql, world);
    expect(rows.size).toBe(1050);
    for (const [id, r] of rows) {
      expect(r.token).toBe(plaintextOf(id, 'token'));
      expect(r.blob).toBe(Number(id) % 10 === 0 ? null : plaintextOf(id, 'blob'));
      expect(r.tokenKey).toBe('kek-v2');
    }
    expect(await world.actions()).toEqual(['job.created', 'job.planned', 'key.retired', 'job.completed']);
    // A rerun finds nothing left to do.
    const again = await startJob(engine(db, world), {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 100,
      requestedBy: 'test',
    });
    expect(again.job.counters.rowsTotal).toBe(0);
    expect(again.job.counters.batchesTotal).toBe(0);
    expect(again.job.status).toBe('completed');
  });

  it('a dry run reports like the runbook tool and leaves the table byte-identical', async () => {
    await seedSecrets(db.sql, world, 100);
    // 58 rows already moved (one batch of an earlier job): the dry run must count the other 42.
    const deps = engine(db, world);
    const earlier = await createJob(deps, {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 58,
      requestedBy: 'test',
    });
    await planJob(deps, earlier.id);
    expect(await executeBatch(deps, earlier.id, { table: 'secrets', seq: 0 })).toMatchObject({ counts: { done: 58 } });
    const before = await tableDigest(db.sql, 'secrets');
    const outcome = await startJob(engine(db, world), {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      dryRun: true,
      requestedBy: 'test',
      batchSize: 10,
    });
    expect(outcome.dryRunReport).toEqual([
      'DRY RUN: secrets: Would re-encrypt 42 of 100 records',
      'DRY RUN: Would re-encrypt 42 of 100 records',
    ]);
    expect(outcome.job.status).toBe('completed');
    expect(outcome.job.plan).toEqual([{ table: 'secrets', rowsTotal: 100, rowsPending: 42, batches: 5 }]);
    expect(await listBatches(db.sql, outcome.job.id)).toEqual([]);
    expect(await tableDigest(db.sql, 'secrets')).toBe(before);
    expect(await world.actions()).toContain('job.dry_run');
  });

  it('a batch delivered twice is harmless: the second delivery changes and counts nothing', async () => {
    await seedSecrets(db.sql, world, 300);
    const deps = engine(db, world);
    const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' });
    await planJob(deps, job.id);
    const first = await executeBatch(deps, job.id, { table: 'secrets', seq: 1 });
    expect(first).toMatchObject({ outcome: 'done', counts: { done: 100, failed: 0, skipped: 0, conflicted: 0 } });
    const digest = await tableDigest(db.sql, 'secrets');
    const second = await executeBatch(deps, job.id, { table: 'secrets', seq: 1 });
    expect(second).toMatchObject({ outcome: 'already-done', counts: { done: 0 } });
    expect(await tableDigest(db.sql, 'secrets')).toBe(digest);
    expect((await getJob(db.sql, job.id)).counters).toMatchObject({ rowsDone: 100, batchesDone: 1 });

    // A delivery that crashes just before its commit leaves nothing behind; the redelivery counts once.
    const crashing = {
      ...deps,
      leaseMs: 1,
      faults: (p: string) => {
        if (p === 'batch.before-commit') throw new InjectedFaultError(p);
      },
    };
    await expect(executeBatch(crashing, job.id, { table: 'secrets', seq: 0 })).rejects.toBeInstanceOf(
      InjectedFaultError,
    );
    expect((await getJob(db.sql, job.id)).counters).toMatchObject({ rowsDone: 100, batchesDone: 1 });
    await new Promise((r) => setTimeout(r, 5)); // the abandoned lease (1 ms) has expired
    expect(await executeBatch(deps, job.id, { table: 'secrets', seq: 0 })).toMatchObject({
      outcome: 'done',
      counts: { done: 100 },
    });
    const rest = await runJob(deps, job.id);
    expect(rest.job.status).toBe('completed');
    expect(rest.job.counters).toMatchObject({ rowsDone: 300, rowsSkipped: 0, batchesDone: 3, batchesTotal: 3 });
  });

  it('plans with the key id column by index and window query, and keeps that column in step', async () => {
    await db.sql.query('CREATE TABLE tagged (id integer PRIMARY KEY, secret text, key_id text)');
    const old = oldCipher(world);
    for (let id = 1; id <= 250; id++) {
      const onNew = id % 5 === 0; // every 5th row already on kek-v2
      const value = onNew
        ? await world.cipher.encrypt(`s${id}`, ctxOf('tagged', 'secret', id))
        : await old.encrypt(`s${id}`, ctxOf('tagged', 'secret', id));
      await db.sql.query('INSERT INTO tagged VALUES ($1, $2, $3)', [
        id,
        id === 7 ? null : value,
        id === 7 ? null : onNew ? 'kek-v2' : 'kek-v1',
      ]);
    }
    const registry = parseRegistry({
      tables: [{ name: 'tagged', idColumn: 'id', columns: ['secret'], keyIdColumn: 'key_id' }],
    });
    const outcome = await startJob(engine(db, world, registry), {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 64,
      requestedBy: 'test',
    });
    expect(outcome.plan).toEqual([{ table: 'tagged', rowsTotal: 250, rowsPending: 199, batches: 4 }]);
    expect(outcome.job.sourceKeyIds).toEqual(['kek-v1']);
    expect(outcome.job.counters).toMatchObject({ rowsDone: 199, rowsSkipped: 0, batchesTotal: 4 });
    const { rows } = await db.sql.query<{ id: number; secret: string | null; key_id: string | null }>(
      'SELECT id, secret, key_id FROM tagged ORDER BY id',
    );
    for (const r of rows) {
      if (r.id === 7) expect(r).toMatchObject({ secret: null, key_id: null });
      else {
        expect(r.key_id).toBe('kek-v2');
        expect(peekKeyId(r.secret!)).toBe('kek-v2');
      }
    }
  });

  it('cuts the same batches whether the boundaries come in one page or many', async () => {
    await db.sql.query('CREATE TABLE tagged (id integer PRIMARY KEY, secret text, key_id text)');
    const old = oldCipher(world);
    for (let id = 1; id <= 120; id++) {
      const onNew = id % 4 === 0;
      const value = await (onNew ? world.cipher : old).encrypt(`s${id}`, ctxOf('tagged', 'secret', id));
      await db.sql.query('INSERT INTO tagged VALUES ($1, $2, $3)', [id, value, onNew ? 'kek-v2' : 'kek-v1']);
    }
    const table = parseRegistry({
      tables: [{ name: 'tagged', idColumn: 'id', columns: ['secret'], keyIdColumn: 'key_id' }],
    }).tables[0]!;
    const shape = await describeTable(db.sql, table);
    const plan = (pageSize: number) =>
      planTable(
        { sql: db.sql, crypto: valueCryptoFrom({ cipher: world.cipher }), pageSize },
        table,
        shape,
        'rewrap',
        'kek-v2',
        7,
      );
    const whole = await plan(1000);
    expect(whole.rowsPending).toBe(90);
    expect(whole.ranges).toHaveLength(13); // 12 full batches of 7, then 6 rows
    expect(whole.ranges.map((r) => r.rows)).toEqual([...Array<number>(12).fill(7), 6]);
    for (const pageSize of [1, 2, 5, 12]) expect(await plan(pageSize)).toEqual(whole);

    // Under a transport's limits (the Data API) the counts come in slices of the table: the same plan.
    const queries: string[] = [];
    const limited: Sql = {
      limits: { maxRequestBytes: 4 << 20, maxResponseBytes: 1 << 20 },
      query: (text, params) => {
        queries.push(text);
        return db.sql.query(text, params);
      },
      transaction: (fn) => db.sql.transaction(fn),
    };
    for (const countSliceRows of [1, 7, 50, 119, 120, 121, 10_000]) {
      queries.length = 0;
      const sliced = await planTable(
        { sql: limited, crypto: valueCryptoFrom({ cipher: world.cipher }), pageSize: 1000, countSliceRows },
        table,
        shape,
        'rewrap',
        'kek-v2',
        7,
      );
      expect([countSliceRows, sliced]).toEqual([countSliceRows, whole]);
      expect(queries.filter((q) => q.startsWith('WITH slice')).length).toBe(Math.floor(120 / countSliceRows) + 1);
      expect(queries.some((q) => q.includes('GROUP BY 1') && !q.startsWith('WITH slice'))).toBe(false);
    }
  });

  it('handles uuid and text ids', async () => {
    await db.sql.query('CREATE TABLE uu (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v text)');
    await db.sql.query('CREATE TABLE tx (name text PRIMARY KEY, v bytea)');
    const old = oldCipher(world);
    for (let i = 0; i < 120; i++) {
      const { rows } = await db.sql.query<{ id: string }>('INSERT INTO uu (v) VALUES (NULL) RETURNING id::text AS id');
      await db.sql.query('UPDATE uu SET v = $2 WHERE id = $1', [
        rows[0]!.id,
        await old.encrypt(`u${i}`, ctxOf('uu', 'v', rows[0]!.id)),
      ]);
      const name = `name-${String.fromCharCode(65 + (i % 26))}${i}`;
      await db.sql.query('INSERT INTO tx VALUES ($1, $2)', [
        name,
        await old.encrypt(Buffer.from(`t${i}`), ctxOf('tx', 'v', name)),
      ]);
    }
    const registry = parseRegistry({
      tables: [
        { name: 'uu', idColumn: 'id', columns: ['v'] },
        { name: 'tx', idColumn: 'name', columns: ['v'] },
      ],
    });
    const outcome = await startJob(
      engine(db, world, registry),
      { mode: 'reencrypt', targetKeyId: 'kek-v2', batchSize: 25, requestedBy: 'test' },
      { concurrency: 2 },
    );
    expect(outcome.job.status).toBe('completed');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 240, batchesTotal: 10 });
    const report = await verify(engine(db, world, registry), { targetKeyId: 'kek-v2', decrypt: true });
    expect(report.ok).toBe(true);
    expect(report.tables.map((t) => [t.table, t.rows, t.decrypt?.checked])).toEqual([
      ['uu', 120, 120],
      ['tx', 120, 120],
    ]);
  });
  it('a worker whose lease was taken over drops its result instead of counting it twice', async () => {
    await seedSecrets(db.sql, world, 200);
    const base = engine(db, world);
    const job = await createJob(base, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' });
    await planJob(base, job.id);
    const ref = { table: 'secrets', seq: 0 };
    const workerB = { ...base, worker: 'B' };
    const workerA = {
      ...base,
      worker: 'A',
      leaseMs: 20,
      // A stalls after transforming; its lease expires and B runs the whole batch meanwhile.
      faults: async (point: string) => {
        if (point !== 'batch.transformed') return;
        await new Promise((r) => setTimeout(r, 40));
        expect(await executeBatch(workerB, job.id, ref)).toMatchObject({ outcome: 'done', counts: { done: 100 } });
      },
    };
    await expect(executeBatch(workerA, job.id, ref)).rejects.toBeInstanceOf(BatchLeaseLostError);
    expect(await getBatch(db.sql, job.id, ref)).toMatchObject({
      status: 'done',
      worker: 'B',
      attempts: 2,
      rowsDone: 100,
    });
    expect((await getJob(db.sql, job.id)).counters).toMatchObject({ rowsDone: 100, batchesDone: 1 });
  });

  it('answers stale or foreign batch references without touching anything', async () => {
    await seedSecrets(db.sql, world, 10);
    const deps = engine(db, world);
    const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' });
    // Not planned yet: the job is not running, so nothing can be claimed.
    await expect(executeBatch(deps, job.id, { table: 'secrets', seq: 0 })).rejects.toBeInstanceOf(BatchNotFoundError);
    await planJob(deps, job.id);
    await expect(executeBatch(deps, job.id, { table: 'secrets', seq: 7 })).rejects.toBeInstanceOf(BatchNotFoundError);
    await expect(
      executeBatch(deps, '00000000-0000-4000-8000-000000000000', { table: 'secrets', seq: 0 }),
    ).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(getJob(db.sql, 'not-a-uuid')).rejects.toBeInstanceOf(JobNotFoundError);
    await db.sql.query(`UPDATE rekey_jobs SET status = 'aborted' WHERE id = $1`, [job.id]);
    expect(await executeBatch(deps, job.id, { table: 'secrets', seq: 0 })).toMatchObject({
      outcome: 'job-not-running',
      jobStatus: 'aborted',
    });
    // The database refuses a finished job going back to work.
    await expect(db.sql.query(`UPDATE rekey_jobs SET status = 'running' WHERE id = $1`, [job.id])).rejects.toThrow(
      /cannot go from aborted to running/,
    );
  });
});
