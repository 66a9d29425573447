import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createPgSql } from '../../../functions/core/adapters/pg-sql';
import { MIGRATIONS } from '../../../functions/core/schema/migrations';
import { findPostgresBinDir, startThrowawayPostgres } from '../../support/postgres-cluster';

/** Each PostgreSQL the harness can provide runs rekey's schema: the fallback is tested, not just hoped for. */
describe('test PostgreSQL kinds', () => {
  it('says which kind this run uses', () => {
    expect(['url', 'cluster', 'pglite']).toContain(process.env.REKEY_TEST_PG_KIND);
    if (process.env.CI) expect(process.env.REKEY_TEST_PG_KIND).not.toBe('pglite');
  });

  it('embedded PGlite over the wire protocol runs the migrations through pg (one connection)', () => {
    // A child process: PGlite's WASM loader needs real dynamic import, which jest's module VM does not give.
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '../../support/pglite-smoke.ts')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ version: MIGRATIONS.length, pending: 0, secondActive: 'refused', keys: '1' });
  });

  it('a throwaway cluster starts on a free port and is removed afterwards', async () => {
    expect(findPostgresBinDir()).toBeDefined(); // this machine class ships the server binaries (CI requires them)
    const pg = await startThrowawayPostgres();
    const sql = createPgSql({ connectionString: pg.url, max: 1 });
    try {
      const { rows } = await sql.query<{ fsync: string }>('SHOW fsync');
      expect(rows[0]!.fsync).toBe('off');
    } finally {
      await sql.close();
      await pg.stop();
    }
    const { existsSync } = await import('node:fs');
    expect(existsSync(pg.dataDir)).toBe(false);
  });
});
