/**
 * Run as a child process by test/integration/harness (PGlite's WASM loader
 * needs real dynamic import, which jest's VM lacks): starts embedded PGlite
 * over the wire protocol, applies rekey's migrations through pg with one
 * connection, checks the one-active-key index, prints a JSON summary.
 */
import { createPgSql } from '../../functions/core/adapters/pg-sql';
import { migrate } from '../../functions/core/schema/migrate';
import { startPgliteServer } from './pglite-server';

async function main(): Promise<void> {
  const server = await startPgliteServer();
  const sql = createPgSql({ connectionString: server.url, max: 1 });
  try {
    const result = await migrate(sql);
    await sql.query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v1', 'raw', 'active')");
    const second = await sql
      .query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v2', 'raw', 'active')")
      .then(() => 'accepted', () => 'refused');
    // pglite-socket 0.2 drops the connection after a statement error; the pool reconnects on the next query.
    const { rows } = await sql.query<{ n: string }>('SELECT count(*) AS n FROM rekey_keys').catch(() =>
      sql.query<{ n: string }>('SELECT count(*) AS n FROM rekey_keys'),
    );
    process.stdout.write(JSON.stringify({ version: result.status.databaseVersion, pending: result.status.pending.length, secondActive: second, keys: rows[0]!.n }));
  } finally {
    await sql.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(String(err instanceof Error ? err.stack : err));
  process.exit(1);
});
