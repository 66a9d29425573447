/**
 * Scenarios for test/integration/harness, run as child processes (with tsx):
 * PGlite's WASM loader needs real dynamic import, which jest's module sandbox
 * lacks, and crash clean-up can only be seen from outside a process.
 * Usage: tsx harness-child.ts <scenario>; prints one JSON line on stdout.
 */
import { createPgSql } from '../../functions/core/adapters/pg/sql';
import { motoEndpoint } from './aws';
import { freshDatabase, migratedDatabase } from './database';
import globalSetup from './global-setup';
import globalTeardown from './global-teardown';
import { startThrowawayPostgres } from '../../functions/local/services/postgres-cluster';

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

const scenarios: Record<string, () => Promise<void>> = {
  /** The whole PGlite path: globalSetup, a database per call, isolation between them, migrations, teardown. */
  async pglite() {
    await globalSetup();
    try {
      const [a, b] = await Promise.all([freshDatabase(), freshDatabase()]);
      await a.sql.query('CREATE TABLE only_in_a (x int)');
      const inB = await b.sql.query<{ present: boolean }>("SELECT to_regclass('only_in_a') IS NOT NULL AS present");
      await Promise.all([a.drop(), b.drop()]);
      const m = await migratedDatabase();
      await m.sql.query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v1', 'raw', 'active')");
      const second = await m.sql
        .query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v2', 'raw', 'active')")
        .then(
          () => 'accepted',
          (err: Error) => err.constructor.name,
        );
      const { rows } = await m.sql.query<{ n: string }>('SELECT count(*) AS n FROM rekey_keys');
      const versions = await m.sql.query<{ v: string }>('SELECT max(version)::text AS v FROM rekey_schema_migrations');
      await m.drop();
      print({
        kind: process.env.REKEY_TEST_PG_KIND,
        maxConnections: process.env.REKEY_TEST_PG_MAX_CONNECTIONS,
        isolated: !inB.rows[0]!.present,
        schemaVersion: Number(versions.rows[0]!.v),
        secondActive: second,
        keys: rows[0]!.n,
      });
    } finally {
      await globalTeardown();
    }
  },

  /** globalSetup as configured by the environment; reports what it exported or the error it raised. */
  async setup() {
    const admin = (): string | undefined => process.env.REKEY_TEST_ADMIN_URL;
    try {
      await globalSetup();
    } catch (err) {
      print({ error: (err as Error).message, adminUrl: admin() ?? null });
      return;
    }
    let moto: string;
    try {
      moto = motoEndpoint();
    } catch (err) {
      moto = (err as Error).message;
    }
    print({
      kind: process.env.REKEY_TEST_PG_KIND,
      motoAvailable: process.env.REKEY_TEST_MOTO_AVAILABLE,
      moto,
      adminUrl: admin(),
    });
    await globalTeardown();
  },

  /** Starts a cluster and exits without stopping it: the exit hook must. */
  async 'exit-without-stop'() {
    const pg = await startThrowawayPostgres();
    print({ url: pg.url, dataDir: pg.dataDir });
    process.exit(0);
  },

  /** Starts a cluster and waits to be killed (SIGKILL: no hook runs; the next start reaps it). */
  async 'wait-to-be-killed'() {
    const pg = await startThrowawayPostgres();
    const sql = createPgSql({ connectionString: pg.url, max: 1 });
    await sql.query('SELECT 1');
    await sql.close();
    print({ url: pg.url, dataDir: pg.dataDir, pid: process.pid });
    setInterval(() => undefined, 60_000);
  },
};

const scenario = scenarios[process.argv[2] ?? ''];
if (!scenario) {
  process.stderr.write(`unknown scenario ${process.argv[2]}; one of ${Object.keys(scenarios).join(', ')}\n`);
  process.exit(2);
}
scenario().catch((err: unknown) => {
  process.stderr.write(String(err instanceof Error ? err.stack : err));
  process.exit(1);
});
