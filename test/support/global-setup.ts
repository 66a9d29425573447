import { findPostgresBinDir, startThrowawayPostgres } from './postgres-cluster';
import { motoServerAvailable, startMotoServer } from './moto-server';
import { startPgliteServer } from './pglite-server';

/**
 * jest globalSetup of the integration project: provides a PostgreSQL and,
 * when installed, moto_server to every integration test through environment
 * variables (jest workers inherit them).
 *
 * PostgreSQL, in order: DATABASE_URL; a throwaway initdb/pg_ctl cluster;
 * embedded PGlite over the wire protocol (one connection: pools of 1).
 * REKEY_TEST_PG=url|cluster|pglite forces one. Under CI=true a missing server
 * or moto_server fails the run instead of degrading.
 */
type Stop = () => Promise<void>;
const g = globalThis as typeof globalThis & { __rekeyTeardown?: Stop[] };

export default async function globalSetup(): Promise<void> {
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  const stops: Stop[] = [];
  g.__rekeyTeardown = stops;
  const notes: string[] = [];

  const forced = process.env.REKEY_TEST_PG;
  let kind: 'url' | 'cluster' | 'pglite';
  if (forced === 'url' || (!forced && process.env.DATABASE_URL)) {
    if (!process.env.DATABASE_URL) throw new Error('REKEY_TEST_PG=url but DATABASE_URL is not set');
    kind = 'url';
    process.env.REKEY_TEST_ADMIN_URL = process.env.DATABASE_URL;
  } else if (forced === 'cluster' || (!forced && findPostgresBinDir())) {
    const pg = await startThrowawayPostgres();
    stops.push(pg.stop);
    kind = 'cluster';
    process.env.REKEY_TEST_ADMIN_URL = pg.url;
  } else {
    if (ci && forced !== 'pglite') {
      throw new Error(
        'CI=true: no PostgreSQL server for the integration tests — set DATABASE_URL or install the server binaries (initdb, pg_ctl); ' +
          'embedded PGlite is only a local fallback',
      );
    }
    const pg = await startPgliteServer();
    stops.push(pg.stop);
    kind = 'pglite';
    process.env.REKEY_TEST_ADMIN_URL = pg.url;
    process.env.REKEY_TEST_PG_MAX_CONNECTIONS = '1';
    notes.push('PostgreSQL: no server binaries found, running on embedded PGlite (one connection; suites needing parallel connections run serially)');
  }
  process.env.REKEY_TEST_PG_KIND = kind;

  if (motoServerAvailable()) {
    const moto = await startMotoServer();
    stops.push(moto.stop);
    process.env.REKEY_TEST_MOTO_ENDPOINT = moto.endpoint;
    process.env.REKEY_TEST_MOTO_AVAILABLE = '1';
  } else {
    if (ci) throw new Error('CI=true: moto_server is not installed (pip install "moto[server]"); the KMS / Secrets Manager / SQS suites need it');
    process.env.REKEY_TEST_MOTO_AVAILABLE = '0';
    notes.push('moto_server: not installed — the KMS, Secrets Manager and SQS suites were NOT run (they fail with a message saying so)');
  }
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  process.env.AWS_REGION ??= 'us-east-1';

  const line = `[rekey test harness] PostgreSQL: ${kind}; moto_server: ${process.env.REKEY_TEST_MOTO_AVAILABLE === '1' ? 'running' : 'missing'}`;
  process.stderr.write(`\n${line}\n${notes.map((n) => `  ! ${n}\n`).join('')}`);
}
