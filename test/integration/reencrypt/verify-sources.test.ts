import { startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { verify } from '../../../functions/core/reencrypt/verify/verify';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, rotationWorld } from './support/fixtures';

/**
 * Verify counts what encrypt mode has still to protect: a plaintext source
 * (an encrypt mapping's source column) that still holds a value is not "on
 * the primary key", even when its target column is NULL and so looks done.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await migratedDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('a waiting plaintext source fails verify until encrypt mode has moved it, and is never printed', async () => {
  const world = await rotationWorld(db.sql);
  await db.sql.query('CREATE TABLE people (id bigint PRIMARY KEY, email text, email_encrypted text)');
  for (let id = 1; id <= 6; id++)
    await db.sql.query('INSERT INTO people VALUES ($1, $2, NULL)', [id, id <= 4 ? `person${id}@example.com` : null]);
  const registry = parseRegistry({
    tables: [{ name: 'people', idColumn: 'id', encrypt: { email: { target: 'email_encrypted', clearSource: true } } }],
  });
  const deps = engine(db, world, registry);

  const before = await verify(deps, { targetKeyId: 'kek-v2' });
  expect(before).toMatchObject({ allOnTarget: true, plaintextSources: 4, ok: false });
  expect(before.tables[0]).toMatchObject({ rows: 6, rowsWithPlaintextSource: 4 });
  expect(JSON.stringify(before)).not.toContain('@example.com');

  // A rewrap job does not move plaintext: its own verify is clean, the table still is not.
  const rewrap = await startJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'test' });
  expect(rewrap.job.status).toBe('completed');
  const encrypt = await startJob(deps, { mode: 'encrypt', targetKeyId: 'kek-v2', requestedBy: 'test' });
  expect(encrypt.job.status).toBe('completed');
  expect(await verify(deps, { targetKeyId: 'kek-v2' })).toMatchObject({ plaintextSources: 0, ok: true });
});
