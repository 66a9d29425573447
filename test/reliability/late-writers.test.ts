import { peekKeyId } from '../../functions/core/crypto/envelope';
import { runJob } from '../../functions/core/reencrypt/jobs/job-runner';
import { createJob } from '../../functions/core/reencrypt/jobs/jobs';
import { finalizeJob } from '../../functions/core/reencrypt/jobs/job-phases';
import { getJob } from '../../functions/core/reencrypt/store/job-store';
import { migratedDatabase, type TestDatabase } from '../support/database';
import {
  ctxOf,
  engine,
  oldCipher,
  plaintextOf,
  readSecrets,
  rotationWorld,
  seedSecrets,
  type World,
} from '../integration/reencrypt/support/fixtures';
import { recordFigure } from './support/figures';

/**
 * Late writers: an application still on the old primary (kek-v1) writes a row
 * after Verify counted nothing left under kek-v1 and before Finalize retires
 * it. The key must stay rotating while that row needs it, and every row must
 * still decrypt.
 */

let db: TestDatabase;
let world: World;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 4 });
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  world = await rotationWorld(db.sql);
  await db.sql.query('DROP TABLE IF EXISTS secrets');
});

const ROWS = 300;

/** Fault hook: the run stops once Verify has kept its counts, leaving the job `verifying` (Finalize not yet run). */
function stopBeforeFinalize(point: string): void {
  if (point === 'job.verified') throw new Error('stop before Finalize');
}

/** The lagging application: inserts (or updates) a row under kek-v1, as a process never redeployed with kek-v2 would. */
async function lateWrite(kind: 'insert' | 'update', id: number): Promise<void> {
  const token = await oldCipher(world).encrypt(
    plaintextOf(id, 'token', 1),
    ctxOf('secrets', 'token', id, `org-${id % 3}`),
  );
  if (kind === 'insert')
    await db.sql.query('INSERT INTO secrets (id, org, token) VALUES ($1, $2, $3)', [id, `org-${id % 3}`, token]);
  else await db.sql.query('UPDATE secrets SET token = $2 WHERE id = $1', [id, token]);
}

describe('a writer still on the old primary, between Verify and Finalize', () => {
  const outcomes: string[] = [];
  afterAll(() => {
    const kept = outcomes.filter((o) => o === 'kept').length;
    recordFigure({
      area: 'Late writers',
      figure: 'old key kept while a late row needs it / trials',
      value: `${kept} / ${outcomes.length}`,
      goal: 'all',
    });
  });

  for (const kind of ['insert', 'update'] as const) {
    it(`(${kind}) keeps the old key rotating, every row decrypts, and the next rotation moves the row and retires the key`, async () => {
      await seedSecrets(db.sql, world, ROWS);
      const deps = engine(db, world);
      // The state machine's steps one by one, as Verify and Finalize run in separate Lambdas.
      const job = await createJob(deps, {
        mode: 'rewrap',
        targetKeyId: 'kek-v2',
        batchSize: 100,
        requestedBy: 'late-writers test',
      });
      const ran = await runJob({ ...deps, faults: stopBeforeFinalize }, job.id).catch((e: unknown) => e);
      expect(ran).toBeInstanceOf(Error);
      expect((await getJob(db.sql, job.id)).status).toBe('verifying');
      expect((await getJob(db.sql, job.id)).verifiedKeys).toEqual({ 'kek-v2': 570 }); // Verify saw nothing under kek-v1

      const lateId = kind === 'insert' ? ROWS + 1 : 42;
      await lateWrite(kind, lateId);

      const finalized = await finalizeJob(deps, job.id);
      expect(finalized.job.status).toBe('completed');
      expect(finalized.retire?.kept).toEqual([{ keyId: 'kek-v1', values: 1 }]);
      const status = await world.status('kek-v1');
      outcomes.push(status === 'rotating' ? 'kept' : `retired (${status})`);
      expect(status).toBe('rotating');
      expect(await world.actions()).not.toContain('key.retired');

      // Nothing unreadable: every row decrypts, the late one to what the lagging writer wrote.
      const rows = await readSecrets(db.sql, world);
      expect(rows.size).toBe(kind === 'insert' ? ROWS + 1 : ROWS);
      expect(rows.get(String(lateId))).toMatchObject({ token: plaintextOf(lateId, 'token', 1), tokenKey: 'kek-v1' });

      // The next rotation moves the late row and retires kek-v1.
      const again = await runJob(
        deps,
        (
          await createJob(deps, {
            mode: 'rewrap',
            targetKeyId: 'kek-v2',
            batchSize: 100,
            requestedBy: 'late-writers test',
          })
        ).id,
      );
      expect(again.job.status).toBe('completed');
      expect(await world.status('kek-v1')).toBe('retired');
      const { rows: late } = await db.sql.query<{ token: string }>('SELECT token FROM secrets WHERE id = $1', [lateId]);
      expect(peekKeyId(late[0]!.token)).toBe('kek-v2');
    });
  }

  it('a Finalize with no late write retires the old key on the counts Verify kept', async () => {
    await seedSecrets(db.sql, world, ROWS);
    const deps = engine(db, world);
    const job = await createJob(deps, {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 100,
      requestedBy: 'late-writers test',
    });
    await runJob({ ...deps, faults: stopBeforeFinalize }, job.id).catch(() => undefined);
    await db.sql.query('UPDATE secrets SET org = org WHERE id = 7'); // a late write under kek-v2 changes nothing
    expect((await finalizeJob(deps, job.id)).job.retiredKeyIds).toEqual(['kek-v1']);
  });
});
