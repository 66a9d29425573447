import { RegistryError } from '../../../functions/core/reencrypt/errors';
import { getJob } from '../../../functions/core/reencrypt/store/job-store';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
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

it("names every table's problems in one error, fails the job, and plans it once fixed", async () => {
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
  expect((err as RegistryError).problems.map((p) => p.path)).toEqual([
    expect.stringMatching(/^absent/),
    expect.stringMatching(/^present/),
  ]);
  const failed = await getJob(db.sql, job.id);
  expect(failed.status).toBe('failed');
  expect(failed.error).toContain('absent');
  expect(failed.error).toContain('present');

  await db.sql.query('CREATE TABLE absent (id bigint PRIMARY KEY, v text)');
  await db.sql.query('ALTER TABLE present ADD COLUMN w text');
  expect((await planJob(deps, job.id)).job.status).toBe('running');
});

it('refuses, before any row is touched, a target key the catalog does not hold as active and a blind index without its key', async () => {
  const world = await rotationWorld(db.sql);
  await db.sql.query(
    'CREATE TABLE contacts (id bigint PRIMARY KEY, email text, email_encrypted text, email_hash text)',
  );
  const registry = parseRegistry({
    tables: [
      { name: 'contacts', idColumn: 'id', encrypt: { email: { target: 'email_encrypted', blindIndex: 'email_hash' } } },
    ],
  });
  const deps = engine(db, world, registry); // no blind index key
  for (const [target, why] of [
    ['kek-v9', /"kek-v9" is not in the key catalog/],
    ['kek-v1', /"kek-v1" is rotating: only an active key can be a target/],
  ] as const) {
    await expect(
      createJob(deps, { mode: 'rewrap', targetKeyId: target, dryRun: true, requestedBy: 'test' }),
    ).rejects.toThrow(why);
  }
  // The key about to be deployed may be previewed by a dry run only; a rotating key never.
  await expect(
    createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v9', dryRun: true, previewTarget: true, requestedBy: 'test' }),
  ).resolves.toMatchObject({ dryRun: true });
  await expect(
    createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v9', previewTarget: true, requestedBy: 'test' }),
  ).rejects.toThrow(/"kek-v9" is not in the key catalog/);
  await expect(
    createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v1', dryRun: true, previewTarget: true, requestedBy: 'test' }),
  ).rejects.toThrow(/is rotating/);
  const job = await createJob(deps, { mode: 'encrypt', targetKeyId: 'kek-v2', dryRun: true, requestedBy: 'test' });
  const err = await planJob(deps, job.id).catch((e: unknown) => e);
  expect((err as RegistryError).problems).toEqual([
    {
      path: 'contacts.blindIndex',
      message: expect.stringMatching(/^email_hash need a blind index key: set BLIND_INDEX_KEY=/),
    },
  ]);
});
