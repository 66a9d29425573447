import { RegistryError } from '../../../functions/core/reencrypt/errors';
import { getJob } from '../../../functions/core/reencrypt/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs';
import { parseRegistry } from '../../../functions/core/reencrypt/registry';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, rotationWorld } from './support/fixtures';

/**
 * A config that does not match the database: one error names the problems of
 * every table at once, and the job is marked failed with them — not left in
 * `planning` — so planning it again once the schema is fixed just works.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await migratedDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('names every table\'s problems in one error, fails the job, and plans it once fixed', async () => {
  const world = await rotationWorld(db.sql);
  await db.sql.query('CREATE TABLE present (id bigint PRIMARY KEY, v text)');
  const registry = parseRegistry({
    tables: [
      { name: 'absent', idColumn: 'id', columns: ['v'] },
      { name: 'present', idColumn: 'id', columns: ['v', 'w'] },
    ],
  });
  const deps = engine(db, world, registry);
  const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'test' });
  const err = await planJob(deps, job.id).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).problems.map((p) => p.path)).toEqual([expect.stringMatching(/^absent/), expect.stringMatching(/^present/)]);
  const failed = await getJob(db.sql, job.id);
  expect(failed.status).toBe('failed');
  expect(failed.error).toContain('absent');
  expect(failed.error).toContain('present');

  await db.sql.query('CREATE TABLE absent (id bigint PRIMARY KEY, v text)');
  await db.sql.query('ALTER TABLE present ADD COLUMN w text');
  expect((await planJob(deps, job.id)).job.status).toBe('running');
});
