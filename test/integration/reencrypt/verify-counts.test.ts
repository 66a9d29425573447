import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { verify } from '../../../functions/core/reencrypt/verify/verify';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { ctxOf, engine, oldCipher, rotationWorld, seedSecrets } from './support/fixtures';
import { executeBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import { finalizeJob, settleBatchPhase, verifyJob } from '../../../functions/core/reencrypt/jobs/job-phases';
import {
  batchIdOf,
  batchesToEnqueue,
  getJob,
  markBatchesEnqueued,
} from '../../../functions/core/reencrypt/store/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';

/**
 * Verify on a table with a key id column counts in SQL, in slices (no value
 * is read), and must agree with the count made by reading every value — the
 * counts retire decides on. A row holding values without a key id means the
 * column is not kept up to date: verify then reads the values instead.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await migratedDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('SQL counts by key id column, sliced, equal the value-by-value counts; a missing key id falls back to reading values', async () => {
  const world = await rotationWorld(db.sql);
  const old = oldCipher(world);
  await db.sql.query('CREATE TABLE tagged (id bigint PRIMARY KEY, key_id text, a text, b text)');
  for (let id = 1; id <= 25; id++) {
    const cipher = id % 3 === 0 ? world.cipher : old; // every third row already on kek-v2
    const a = await cipher.encrypt(`a-${id}`, ctxOf('tagged', 'a', id));
    const b = id % 4 === 0 ? null : await cipher.encrypt(`b-${id}`, ctxOf('tagged', 'b', id));
    await db.sql.query('INSERT INTO tagged VALUES ($1, $2, $3, $4)', [id, id % 3 === 0 ? 'kek-v2' : 'kek-v1', a, b]);
  }
  const withKeyId = engine(
    db,
    world,
    parseRegistry({ tables: [{ name: 'tagged', idColumn: 'id', columns: ['a', 'b'], keyIdColumn: 'key_id' }] }),
  );
  const byValue = engine(
    db,
    world,
    parseRegistry({ tables: [{ name: 'tagged', idColumn: 'id', columns: ['a', 'b'] }] }),
  );

  const statements: string[] = [];
  const query = withKeyId.sql.query.bind(withKeyId.sql);
  const spy = jest.spyOn(withKeyId.sql, 'query').mockImplementation(((text: string, params?: unknown[]) => {
    statements.push(text);
    return query(text, params as never);
  }) as never);
  const sql = await verify(withKeyId, { targetKeyId: 'kek-v2', countSliceRows: 7 });
  spy.mockRestore();
  // Four slices of at most 7 rows, and not one read of the values.
  expect(statements.filter((t) => t.startsWith('WITH slice'))).toHaveLength(4);
  expect(statements.filter((t) => /SELECT .*t\."a"/.test(t) && !t.startsWith('WITH slice'))).toEqual([]);
  const read = await verify(byValue, { targetKeyId: 'kek-v2' });
  expect(sql.tables[0]).toEqual(read.tables[0]);
  expect(sql.keys).toEqual(read.keys);
  expect(sql.tables[0]).toMatchObject({ rows: 25, rowsOnTarget: 8, rowsNotOnTarget: 17 });

  // A row whose values carry no key id: the column cannot be trusted, so the values are read.
  await db.sql.query('UPDATE tagged SET key_id = NULL WHERE id = 1');
  const fallback = await verify(withKeyId, { targetKeyId: 'kek-v2', countSliceRows: 7 });
  expect(fallback.keys).toEqual(read.keys);
});

it("Finalize retires on the counts the job's Verify kept, without reading the tables again (one look for rows written since Verify)", async () => {
  const world = await rotationWorld(db.sql);
  await seedSecrets(db.sql, world, 40, 'secrets_fin');
  const deps = engine(
    db,
    world,
    parseRegistry({
      tables: [{ name: 'secrets_fin', idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' }],
    }),
  );
  const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' });
  await planJob(deps, job.id);
  const refs = await batchesToEnqueue(db.sql, job.id, 10);
  await markBatchesEnqueued(db.sql, job.id, refs);
  for (const ref of refs) await executeBatch(deps, job.id, batchIdOf(ref));
  await settleBatchPhase(deps, job.id);
  expect(await verifyJob(deps, job.id)).toMatchObject({ clean: true });
  expect((await getJob(db.sql, job.id)).verifiedKeys).toEqual({ 'kek-v2': 76 });

  const statements: string[] = [];
  const query = deps.sql.query.bind(deps.sql);
  const spy = jest.spyOn(deps.sql, 'query').mockImplementation(((text: string, params?: unknown[]) => {
    statements.push(text);
    return query(text, params as never);
  }) as never);
  const done = await finalizeJob(deps, job.id);
  spy.mockRestore();
  expect(done.job).toMatchObject({ status: 'completed', retiredKeyIds: ['kek-v1'] });
  // Only the late-writes check (late-writes.ts): rows with an xmin newer than Verify's start, none here.
  expect(statements.filter((t) => t.includes('secrets_fin'))).toEqual([
    expect.stringMatching(
      /^SELECT "token", "blob" FROM "secrets_fin" WHERE age\(xmin\) < age\(\$1::text::xid\) LIMIT \d+$/,
    ),
  ]);
});
