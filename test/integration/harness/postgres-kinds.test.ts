import { existsSync } from 'node:fs';
import { createPgSql } from '../../../functions/core/adapters/pg/sql';
import { MIGRATIONS } from '../../../functions/core/schema/migrations';
import { freshDatabase } from '../../support/database';
import { findPostgresBinDir, startThrowawayPostgres } from '../../../functions/local/services/postgres-cluster';
import { runHarnessChild } from '../../support/run-harness-child';

/** Each PostgreSQL the harness can provide runs rekey's schema: the fallback is tested, not just hoped for. */
describe('test PostgreSQL kinds', () => {
  it('says which kind this run uses (never PGlite in CI unless forced)', () => {
    expect(['url', 'cluster', 'pglite']).toContain(process.env.REKEY_TEST_PG_KIND);
    if (process.env.CI === 'true' && process.env.REKEY_TEST_PG !== 'pglite')
      expect(process.env.REKEY_TEST_PG_KIND).not.toBe('pglite');
  });

  it('freshDatabase() gives each caller its own database, and drop() removes it', async () => {
    const [a, b] = await Promise.all([freshDatabase(), freshDatabase()]);
    expect(a.url).not.toBe(b.url);
    await a.sql.query('CREATE TABLE only_in_a (x int)');
    const inB = await b.sql.query<{ present: boolean }>("SELECT to_regclass('only_in_a') IS NOT NULL AS present");
    expect(inB.rows[0]!.present).toBe(false);
    await Promise.all([a.drop(), b.drop()]);
    const gone = createPgSql({ connectionString: a.url, max: 1 });
    await expect(gone.query('SELECT 1')).rejects.toThrow();
    await gone.close();
  });

  it('embedded PGlite (forced) runs rekey: a database per test file, isolated, migrated, one-active-key index enforced', async () => {
    const out = await runHarnessChild('pglite', {
      REKEY_TEST_PG: 'pglite',
      REKEY_TEST_MOTO_BIN: 'rekey-no-such-moto-server',
    });
    expect(out).toEqual({
      kind: 'pglite',
      maxConnections: '1',
      isolated: true,
      schemaVersion: MIGRATIONS[MIGRATIONS.length - 1]!.version,
      secondActive: 'UniqueViolationError',
      keys: '1',
    });
  });

  it('a throwaway cluster starts on a free port with durability off and is removed afterwards', async () => {
    expect(findPostgresBinDir()).toBeDefined(); // this machine class ships the server binaries (CI requires them)
    const pg = await startThrowawayPostgres();
    const sql = createPgSql({ connectionString: pg.url, max: 1 });
    try {
      const { rows } = await sql.query<{ fsync: string; listen: string }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen",
      );
      expect(rows[0]).toEqual({ fsync: 'off', listen: '127.0.0.1' });
    } finally {
      await sql.close();
      await pg.stop();
    }
    expect(existsSync(pg.dataDir)).toBe(false);
  });
});
