import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import { recordFigure, sized } from './support/figures';
import { checkVault, seedVault, valueOf, type Vault } from './support/vault';

/**
 * An application process (test/reliability/support/app-writer.ts: the library
 * API, its own pg connections, four writers, each walking its rows in a
 * random order, every update a different row) writes while a real
 * `rekey reencrypt --concurrency 2` process (main thread and a worker
 * thread, three batch loops) rotates the table from kek-0 to
 * kek-1. One in five application writes still uses the old key, as an
 * instance that has not picked up the new key would.
 *
 * Afterwards every row holds the application's latest value and decrypts:
 * the rotation's compare-and-swap never overwrote an application write with
 * a stale re-encryption. Lost writes are counted against the application
 * updates made while the rotation process ran.
 */
const ROWS = sized(40_000, 200_000);
// The application writes until the rotation process has exited (no minimum).
const MIN_UPDATES = 0;
const MIN_CONCURRENT = 10_000;
const LANES = 4;

let db: TestDatabase;
let vault: Vault;

beforeAll(async () => {
  requireRealPostgres('an application process and a rotation with two workers write at the same time');
  db = await migratedDatabase({ poolSize: 2 });
  vault = await seedVault(db.sql, db.url, ROWS, 2);
});
afterAll(async () => {
  vault?.dispose();
  await db?.drop();
});

it('loses no application write while `rekey reencrypt --concurrency 2` rotates the table', async () => {
  const out = join(vault.dir, 'app-writer.json');
  const app = spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs'), join(__dirname, 'support', 'app-writer.ts'), String(ROWS), String(MIN_UPDATES), String(LANES), '7', out],
    { env: vault.env(1) },
  );
  let appErr = '';
  const appExited = new Promise<number | null>((resolve) => app.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    app.stderr.on('data', (d: Buffer) => {
      appErr += d.toString();
      if (appErr.includes('app-writer: writing')) resolve();
    });
    void appExited.then(() => reject(new Error(`app-writer exited early: ${appErr}`)));
  });

  const rotationStart = Date.now();
  const rotation = vault.spawnRekey(1, ['reencrypt', '--concurrency', '2', '-b', '250']);
  const rotationExit = await rotation.exited;
  const rotationEnd = Date.now();
  app.stdin.end();
  expect({ appExit: await appExited, appErr }).toMatchObject({ appExit: 0 });
  if (rotationExit.signal || rotationExit.code === null) throw new Error(`rotation died ${JSON.stringify(rotationExit)}:\n${rotation.err().slice(-1500)}`);

  const written = JSON.parse(readFileSync(out, 'utf8')) as { latest: [number, string][]; stamps: number[] };
  const expected = new Map(Array.from({ length: ROWS }, (_, i) => [i + 1, valueOf(i + 1)] as const));
  for (const [id, value] of written.latest) expected.set(id, value);
  const concurrent = written.stamps.filter((t) => t >= rotationStart && t <= rotationEnd).length;
  const check = await checkVault(db.sql, await vault.library(1), expected, 'kek-1');
  const { rows } = await db.sql.query<{ status: string; rows_done: string; rows_conflicted: string }>(
    `SELECT status, rows_done::text, rows_conflicted::text FROM rekey_jobs WHERE target_key_id = 'kek-1'`,
  );
  const lostWrites = check.lost + check.changed;

  recordFigure({
    area: 'Concurrent writers',
    figure: 'application updates (library API, separate process, 4 connections) while the rotation ran / in all',
    value: `${concurrent.toLocaleString('en-US')} / ${written.stamps.length.toLocaleString('en-US')} (${ROWS.toLocaleString('en-US')} rows)`,
    goal: `≥ ${MIN_CONCURRENT.toLocaleString('en-US')} concurrent`,
  });
  recordFigure({ area: 'Concurrent writers', figure: 'lost writes (a row not holding the application\'s latest value)', value: `${lostWrites} of ${concurrent.toLocaleString('en-US')}`, goal: '0' });
  recordFigure({ area: 'Concurrent writers', figure: 'rows that do not decrypt', value: `${check.undecryptable} of ${ROWS.toLocaleString('en-US')}`, goal: '0' });
  recordFigure({
    area: 'Concurrent writers',
    figure: 'rotation: rows moved / changed concurrently twice (left for the next pass) / left under kek-0 by the old-key writer',
    value: `${rows[0]?.rows_done} / ${rows[0]?.rows_conflicted} / ${check.notUnderTarget}`,
    goal: 'informational',
  });

  expect(rows).toHaveLength(1);
  // Rows the old-key writer wrote behind the rotation stay under kek-0: the job's verify says so and keeps kek-0 (exit 1).
  if (rows[0]!.status === 'completed') expect(rotationExit.code).toBe(0);
  else {
    expect({ code: rotationExit.code, status: rows[0]!.status }).toEqual({ code: 1, status: 'completed_with_errors' });
    expect(rotation.out()).toMatch(/\d+ row\(s\) not on kek-1; key kek-0 still holds \d+ value\(s\) and was not retired/);
  }
  expect(concurrent).toBeGreaterThanOrEqual(MIN_CONCURRENT);
  expect({ lostWrites, undecryptable: check.undecryptable, rows: check.rows }).toEqual({ lostWrites: 0, undecryptable: 0, rows: ROWS });
}, sized(240_000, 900_000));
