import { KeyLifecycleError } from '../../../functions/core/reencrypt/errors';
import { startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { rollback } from '../../../functions/core/reencrypt/verify/rollback';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, plaintextOf, readSecrets, rotationWorld, seedSecrets } from './support/fixtures';

let db: TestDatabase;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 8 });
});
afterAll(async () => {
  await db.drop();
});

it('rollback makes the previous key primary again and returns every row to it', async () => {
  const world = await rotationWorld(db.sql);
  await seedSecrets(db.sql, world, 400);
  const rotated = await startJob(engine(db, world), {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    batchSize: 64,
    requestedBy: 'test',
  });
  expect(rotated.job.status).toBe('completed');
  expect(await world.status('kek-v1')).toBe('retired');

  const deps = { ...engine(db, world), catalog: world.catalog };
  const outcome = await rollback(deps, { toKeyId: 'kek-v1', requestedBy: 'oncall', batchSize: 64 }, { concurrency: 2 });
  expect(outcome).toMatchObject({ fromKeyId: 'kek-v2', toKeyId: 'kek-v1' });
  expect(outcome.job).toMatchObject({
    mode: 'rewrap',
    targetKeyId: 'kek-v1',
    status: 'completed',
    counters: { rowsDone: 400, rowsFailed: 0 },
  });
  expect(await world.status('kek-v1')).toBe('active');
  expect(await world.status('kek-v2')).toBe('retired'); // emptied by the rollback job's verify
  const rows = await readSecrets(db.sql, world);
  for (const [id, r] of rows) {
    expect(r.token).toBe(plaintextOf(id, 'token'));
    expect(r.tokenKey).toBe('kek-v1');
    if (r.blob !== null) expect(r.blobKey).toBe('kek-v1');
  }
  const rollbackEvents = await world.audit.list({ action: 'key.rollback' });
  expect(rollbackEvents.map((e) => [e.actor, e.subject, e.details])).toEqual([
    ['oncall', 'key:kek-v1', { from: 'kek-v2', to: 'kek-v1' }],
  ]);
  expect(await world.actions()).toEqual(
    expect.arrayContaining(['key.activated', 'key.rotating', 'key.rollback', 'key.retired']),
  );

  // Nothing to roll back to by default now (no rotating key), and the active key is not a target.
  await expect(rollback(deps, { requestedBy: 'oncall' })).rejects.toThrow(KeyLifecycleError);
  await expect(rollback(deps, { toKeyId: 'kek-v1', requestedBy: 'oncall' })).rejects.toThrow(/already the active key/);
});
