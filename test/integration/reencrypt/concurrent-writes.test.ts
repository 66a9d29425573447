import type { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { runJob, startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { createJob } from '../../../functions/core/reencrypt/jobs/jobs';
import type { FaultSite } from '../../../functions/core/reencrypt/ports';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import {
  ctxOf,
  engine,
  oldCipher,
  plaintextOf,
  readSecrets,
  rotationWorld,
  seedSecrets,
  type World,
} from './support/fixtures';
import { seededRandom } from '../../support/random';

/**
 * An application keeps writing while the rotation runs: random rows get fresh
 * values, some under the new key, some under the old one (an instance that
 * has not picked up the new key yet), some set to NULL. Besides that loop, a
 * hook writes into the very rows a batch has read and not yet written (and
 * again into rows it re-reads), so the compare-and-swap paths are taken for
 * sure. Afterwards every row must hold the application's last value.
 */
let db: TestDatabase;
let world: World;
const N = 3000;

beforeAll(async () => {
  requireRealPostgres('an application writing on its own connections while the rotation runs');
  db = await migratedDatabase({ poolSize: 8 });
  world = await rotationWorld(db.sql);
  await seedSecrets(db.sql, world, N);
});
afterAll(async () => {
  await db.drop();
});

it("loses no concurrent write: every row ends with the application's last value", async () => {
  const random = seededRandom(20240611);
  const old: EnvelopeCipher = oldCipher(world);
  /** id → the token plaintext the application last wrote (null: it set NULL). */
  const expected = new Map<number, string | null>();
  let generation = 0;
  let appWrites = 0;

  const appWrite = async (id: number, mode: 'new' | 'old' | 'null'): Promise<void> => {
    const org = `org-${id % 3}`;
    const g = ++generation;
    const plain = plaintextOf(id, 'token', g);
    const value =
      mode === 'null'
        ? null
        : await (mode === 'new' ? world.cipher : old).encrypt(plain, ctxOf('secrets', 'token', id, org));
    await db.sql.query('UPDATE secrets SET token = $2 WHERE id = $1', [id, value]);
    expected.set(id, mode === 'null' ? null : plain);
    appWrites++;
  };
  const pickMode = (): 'new' | 'old' | 'null' => {
    const x = random();
    return x < 0.6 ? 'new' : x < 0.95 ? 'old' : 'null';
  };

  let hookWrites = 0;
  const faults = async (point: string, site?: FaultSite): Promise<void> => {
    if (!site) return;
    if (point === 'batch.transformed' && site.seq! % 2 === 0) {
      // Between the batch's read and its write: change the first row of its range.
      const id = site.lo === null ? 1 : Number(site.lo) + 1;
      await appWrite(id, random() < 0.5 ? 'new' : 'old');
      hookWrites++;
    }
    if (point === 'batch.retransformed' && site.seq! % 4 === 0) {
      // And once more between the re-read and the retry: this row must be left alone for the next pass.
      await appWrite(Number(site.rowIds![0]), 'old');
      hookWrites++;
    }
  };

  const deps = engine(db, world, undefined, { faults });
  const job = await createJob(deps, {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    batchSize: 50,
    requestedBy: 'test',
    maxErrorRate: 0,
  });
  let running = true;
  const writer = (async () => {
    while (running || appWrites < 300) {
      await appWrite(1 + Math.floor(random() * N), pickMode());
    }
  })();
  const outcome = await runJob(deps, job.id, { concurrency: 2 });
  running = false;
  await writer;

  expect(hookWrites).toBeGreaterThan(20);
  expect(appWrites).toBeGreaterThan(300);
  // Rows the application changed under a batch were re-read and retried; some changed twice and were left alone.
  expect(outcome.job.counters.rowsConflicted).toBeGreaterThan(0);
  expect(outcome.job.counters.rowsFailed).toBe(0);

  const check = async (): Promise<
    Map<string, { token: string | null; tokenKey: string | null; blob: string | null }>
  > => {
    const rows = await readSecrets(db.sql, world);
    expect(rows.size).toBe(N);
    for (const [id, r] of rows) {
      const want = expected.has(Number(id)) ? expected.get(Number(id))! : plaintextOf(id, 'token');
      expect({ id, token: r.token }).toEqual({ id, token: want });
      expect({ id, blob: r.blob }).toEqual({ id, blob: Number(id) % 10 === 0 ? null : plaintextOf(id, 'blob') });
    }
    return rows;
  };
  await check();

  // The next pass (no writer now) moves whatever the application wrote under the old key, and then retires it.
  const next = await startJob(engine(db, world), {
    mode: 'rewrap',
    targetKeyId: 'kek-v2',
    batchSize: 500,
    requestedBy: 'test',
  });
  expect(next.job.status).toBe('completed');
  const rows = await check();
  for (const r of rows.values()) if (r.token !== null) expect(r.tokenKey).toBe('kek-v2');
  expect(await world.status('kek-v1')).toBe('retired');
});
