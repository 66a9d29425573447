import { executeBatch } from '../../../functions/core/reencrypt/batches/batch-executor';
import { JobOptionsError } from '../../../functions/core/reencrypt/errors';
import { batchIdOf, batchesToEnqueue, markBatchesEnqueued } from '../../../functions/core/reencrypt/store/job-store';
import { finalizeJob, settleBatchPhase, verifyJob } from '../../../functions/core/reencrypt/jobs/job-phases';
import { createJob, planJob } from '../../../functions/core/reencrypt/jobs/jobs';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, readSecrets, rotationWorld, seedSecrets, type World } from './support/fixtures';

/**
 * A tenant's values stay under the tenant's own key: a tenant job moves only
 * that tenant's rows to it, and a global job leaves the rows of tenants with
 * their own active key alone (it would otherwise move them to the global key,
 * and destroying the tenant's key would no longer shred them). seedSecrets
 * spreads rows over org-0, org-1 and org-2 (id % 3), all under kek-v1.
 */
const ROWS = 90;
let db: TestDatabase;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 4 });
});
afterAll(async () => {
  await db.drop();
});
afterEach(async () => {
  await db.sql.query('DROP TABLE IF EXISTS secrets');
});

async function runBatches(world: World, jobId: string): Promise<void> {
  const deps = engine(db, world);
  const refs = await batchesToEnqueue(db.sql, jobId, 1000);
  await markBatchesEnqueued(db.sql, jobId, refs);
  for (const ref of refs) await executeBatch(deps, jobId, batchIdOf(ref));
}

/** Key id of every row's token, by tenant. */
async function keysByTenant(world: World): Promise<Record<string, string[]>> {
  const orgs = await db.sql.query<{ id: string; org: string }>('SELECT id::text AS id, org FROM secrets ORDER BY id');
  const states = await readSecrets(db.sql, world);
  const out: Record<string, Set<string>> = {};
  for (const r of orgs.rows) (out[r.org] ??= new Set()).add(states.get(r.id)!.tokenKey!);
  return Object.fromEntries(Object.entries(out).map(([org, keys]) => [org, [...keys].sort()]));
}

it('a global job leaves the rows of a tenant with its own active key where they are', async () => {
  const world = await rotationWorld(db.sql, { tenantKeys: [{ id: 'org-1-v1', tenant: 'org-1' }] });
  await seedSecrets(db.sql, world, ROWS);
  const deps = engine(db, world);
  const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 20, requestedBy: 'test' });
  expect(job.scope).toEqual({ kind: 'exclude', tenants: ['org-1'] });
  const plan = await planJob(deps, job.id);
  expect(plan.summary).toEqual([{ table: 'secrets', rowsTotal: 60, rowsPending: 60, batches: 3 }]);
  await runBatches(world, job.id);
  expect(await keysByTenant(world)).toEqual({ 'org-0': ['kek-v2'], 'org-1': ['kek-v1'], 'org-2': ['kek-v2'] });
});

it("a tenant job moves only that tenant's rows, to the tenant's key", async () => {
  const world = await rotationWorld(db.sql, { tenantKeys: [{ id: 'org-1-v1', tenant: 'org-1' }] });
  await seedSecrets(db.sql, world, ROWS);
  const deps = engine(db, world);
  const job = await createJob(deps, {
    mode: 'rewrap',
    targetKeyId: 'org-1-v1',
    tenant: 'org-1',
    batchSize: 20,
    requestedBy: 'test',
  });
  expect(job.scope).toEqual({ kind: 'tenant', tenant: 'org-1' });
  const plan = await planJob(deps, job.id);
  expect(plan.summary).toEqual([{ table: 'secrets', rowsTotal: 30, rowsPending: 30, batches: 2 }]);
  await runBatches(world, job.id);
  expect(await keysByTenant(world)).toEqual({ 'org-0': ['kek-v1'], 'org-1': ['org-1-v1'], 'org-2': ['kek-v1'] });
  // Every value still decrypts with its own context (readSecrets decrypted them all above).

  // Verify judges the tenant's rows only; kek-v1 stays for the other tenants, and the job is complete.
  expect((await settleBatchPhase(deps, job.id)).job.status).toBe('verifying');
  expect(await verifyJob(deps, job.id)).toMatchObject({ clean: true, rowsOnOldKeys: 0 });
  const done = await finalizeJob(deps, job.id);
  expect(done.job.status).toBe('completed');
  expect(done.retire?.kept).toEqual([{ keyId: 'kek-v1', values: 114 }]);
  expect(await world.status('kek-v1')).toBe('rotating');
});

it('without a tenant key, a global job covers every row; a tenant job needs tables with a tenant column', async () => {
  const world = await rotationWorld(db.sql);
  await seedSecrets(db.sql, world, ROWS);
  const deps = engine(db, world);
  const job = await createJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 50, requestedBy: 'test' });
  expect(job.scope).toEqual({ kind: 'all' });
  expect((await planJob(deps, job.id)).summary).toEqual([
    { table: 'secrets', rowsTotal: ROWS, rowsPending: ROWS, batches: 2 },
  ]);

  const untenanted = engine(
    db,
    world,
    parseRegistry({ tables: [{ name: 'secrets', idColumn: 'id', columns: ['token'] }] }),
  );
  const refused = await createJob(untenanted, {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    tenant: 'org-1',
    tables: ['secrets'],
    requestedBy: 'test',
  }).catch((e: Error) => e);
  expect(refused).toBeInstanceOf(JobOptionsError);
  expect((refused as Error).message).toMatch(
    /secrets has no tenantColumn, so a job for tenant "org-1" cannot tell its rows/,
  );
});
