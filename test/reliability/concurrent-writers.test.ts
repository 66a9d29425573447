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
 * thread, three batch loops) rotates the table from kek-0 to kek-1 — and on
 * to kek-2, kek-3 … (one rotation after the other) until at least 10,000
 * application updates ran during a rotation, however fast this machine runs
 * either side. One in five application writes still uses the old key, as an
 * instance that has not picked up the new key would.
 *
 * Afterwards every row holds the application's latest value and decrypts:
 * the rotation's compare-and-swap never overwrote an application write with
 * a stale re-encryption. Lost writes are counted against the application
 * updates made while a rotation process ran.
 */
const ROWS = sized(25_000, 200_000);
// The application writes until the rotation process has exited (no minimum).
const MIN_UPDATES = 0;
const MIN_CONCURRENT = 10_000;
const LANES = 4;
/** Keys of the chain: at most this many rotations run while the application writes. */
const MAX_ROTATIONS = 5;

let db: TestDatabase;
let vault: Vault;

beforeAll(async () => {
  requireRealPostgres('an application process and a rotation with two workers write at the same time');
  db = await migratedDatabase({ poolSize: 2 });
  vault = await seedVault(db.sql, db.url, ROWS, MAX_ROTATIONS + 1);
});
afterAll(async () => {
  vault?.dispose();
  await db?.drop();
});

it(
  'loses no application write while `rekey reencrypt --concurrency 2` rotates the table',
  async () => {
    const out = join(vault.dir, 'app-writer.json');
    const app = spawn(
      process.execPath,
      [
        '--require',
        require.resolve('tsx/cjs'),
        join(__dirname, 'support', 'app-writer.ts'),
        String(ROWS),
        String(MIN_UPDATES),
        String(LANES),
        '7',
        out,
      ],
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

    const appCount = (): number => Number([...appErr.matchAll(/app-writer: (\d+)\n/g)].pop()?.[1] ?? 0);
    // Rotations one after the other (kek-0 → kek-1 → kek-2 …) until the application made enough updates during them.
    const rotations: {
      start: number;
      end: number;
      exit: { code: number | null; signal: NodeJS.Signals | null };
      out: string;
      target: number;
    }[] = [];
    let during = 0;
    for (let target = 1; target <= MAX_ROTATIONS && during < MIN_CONCURRENT + 500; target++) {
      const before = appCount();
      const start = Date.now();
      const rotation = vault.spawnRekey(target, ['reencrypt', '--concurrency', '2', '-b', '250']);
      const exit = await rotation.exited;
      rotations.push({ start, end: Date.now(), exit, out: rotation.out(), target });
      during += appCount() - before;
      if (exit.signal || exit.code === null)
        throw new Error(`rotation died ${JSON.stringify(exit)}:\n${rotation.err().slice(-1500)}`);
    }
    app.stdin.end();
    expect({ appExit: await appExited, appErr: appErr.slice(-500) }).toMatchObject({ appExit: 0 });

    const written = JSON.parse(readFileSync(out, 'utf8')) as { latest: [number, string][]; stamps: number[] };
    const expected = new Map(Array.from({ length: ROWS }, (_, i) => [i + 1, valueOf(i + 1)] as const));
    for (const [id, value] of written.latest) expected.set(id, value);
    const concurrent = written.stamps.filter((t) => rotations.some((r) => t >= r.start && t <= r.end)).length;
    const last = rotations[rotations.length - 1]!.target;
    const check = await checkVault(db.sql, await vault.library(last), expected, `kek-${last}`);
    const { rows } = await db.sql.query<{
      target_key_id: string;
      status: string;
      rows_done: string;
      rows_conflicted: string;
    }>(`SELECT target_key_id, status, rows_done::text, rows_conflicted::text FROM rekey_jobs ORDER BY created_at`);
    const lostWrites = check.lost + check.changed;

    recordFigure({
      area: 'Concurrent writers',
      figure: 'application updates (library API, separate process, 4 connections) while a rotation ran / in all',
      value: `${concurrent.toLocaleString('en-US')} / ${written.stamps.length.toLocaleString('en-US')} (${ROWS.toLocaleString('en-US')} rows, ${rotations.length} rotation(s))`,
      goal: `≥ ${MIN_CONCURRENT.toLocaleString('en-US')} concurrent`,
    });
    recordFigure({
      area: 'Concurrent writers',
      figure: "lost writes (a row not holding the application's latest value)",
      value: `${lostWrites} of ${concurrent.toLocaleString('en-US')}`,
      goal: '0',
    });
    recordFigure({
      area: 'Concurrent writers',
      figure: 'rows that do not decrypt',
      value: `${check.undecryptable} of ${ROWS.toLocaleString('en-US')}`,
      goal: '0',
    });
    recordFigure({
      area: 'Concurrent writers',
      figure:
        'rotations: rows moved / changed concurrently twice (left for the next pass) / rows not under the last key at the end',
      value: `${rows.map((r) => r.rows_done).join(' + ')} / ${rows.map((r) => r.rows_conflicted).join(' + ')} / ${check.notUnderTarget}`,
      goal: 'informational',
    });

    expect(rows).toHaveLength(rotations.length);
    // Rows the old-key writer wrote behind a rotation stay under an older key: that job's verify says so and keeps the key (exit 1).
    for (const [i, r] of rotations.entries()) {
      expect(rows[i]!.target_key_id).toBe(`kek-${r.target}`);
      if (rows[i]!.status === 'completed') expect(r.exit.code).toBe(0);
      else {
        expect({ code: r.exit.code, status: rows[i]!.status }).toEqual({ code: 1, status: 'completed_with_errors' });
        expect(r.out).toMatch(
          new RegExp(
            `\\d+ row\\(s\\) not on kek-${r.target}; key kek-\\d+ still holds \\d+ value\\(s\\) and was not retired`,
          ),
        );
      }
    }
    expect(concurrent).toBeGreaterThanOrEqual(MIN_CONCURRENT);
    expect({ lostWrites, undecryptable: check.undecryptable, rows: check.rows }).toEqual({
      lostWrites: 0,
      undecryptable: 0,
      rows: ROWS,
    });
  },
  sized(240_000, 900_000),
);
