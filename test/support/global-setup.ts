import { motoServerAvailable, startMotoServer } from '../../functions/local/services/moto-server';
import { startPgliteFactory } from './pglite-factory';
import { startPgliteServer } from '../../functions/local/services/pglite-server';
import { findPostgresBinDir, startThrowawayPostgres } from '../../functions/local/services/postgres-cluster';

/**
 * jest globalSetup of the integration and handlers projects: provides a
 * PostgreSQL and, when installed, moto_server to every test through
 * environment variables (jest workers inherit them). test/support/README.md
 * documents the variables.
 *
 * PostgreSQL, in order: DATABASE_URL; a throwaway initdb/pg_ctl cluster;
 * embedded PGlite over the wire protocol. REKEY_TEST_PG=url|cluster|pglite
 * forces one. Under CI=true a missing server or moto_server fails the run
 * before anything starts, naming everything that is missing.
 */
type Stop = () => Promise<void>;
type PgKind = 'url' | 'cluster' | 'pglite';
const g = globalThis as typeof globalThis & { __rekeyTeardown?: Stop[] };

export default async function globalSetup(): Promise<void> {
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  const kind = choosePostgres();
  const moto = motoServerAvailable();
  if (ci) {
    const missing = [
      ...(kind === 'pglite' && process.env.REKEY_TEST_PG !== 'pglite'
        ? [
            'a PostgreSQL server: set DATABASE_URL or install the server binaries (initdb, pg_ctl); embedded PGlite is only a local fallback',
          ]
        : []),
      ...(moto ? [] : ['moto_server (pip install "moto[server]"): the KMS / Secrets Manager / SQS suites need it']),
    ];
    if (missing.length > 0)
      throw new Error(`CI=true and the integration tests cannot run — missing ${missing.join('; and ')}`);
  }

  const stops: Stop[] = [];
  g.__rekeyTeardown = stops;
  const notes: string[] = [];
  if (kind === 'url') {
    process.env.REKEY_TEST_ADMIN_URL = process.env.DATABASE_URL;
  } else if (kind === 'cluster') {
    const pg = await startThrowawayPostgres();
    stops.push(pg.stop);
    process.env.REKEY_TEST_ADMIN_URL = pg.url;
  } else {
    // One shared instance for REKEY_TEST_ADMIN_URL, and a factory handing each freshDatabase() its own.
    const pg = await startPgliteServer();
    stops.push(pg.stop);
    const factory = await startPgliteFactory();
    stops.push(factory.stop);
    process.env.REKEY_TEST_ADMIN_URL = pg.url;
    process.env.REKEY_TEST_PGLITE_FACTORY = factory.endpoint;
    process.env.REKEY_TEST_PG_MAX_CONNECTIONS = '1';
    notes.push(
      `PostgreSQL: ${process.env.REKEY_TEST_PG === 'pglite' ? 'REKEY_TEST_PG=pglite' : 'no server binaries found'}, running on embedded PGlite — one statement at a time; ` +
        'tests that need a real server fail with "NOT RUN on the embedded PGlite fallback"',
    );
  }
  process.env.REKEY_TEST_PG_KIND = kind;

  if (moto) {
    const server = await startMotoServer();
    stops.push(server.stop);
    process.env.REKEY_TEST_MOTO_ENDPOINT = server.endpoint;
    process.env.REKEY_TEST_MOTO_AVAILABLE = '1';
  } else {
    delete process.env.REKEY_TEST_MOTO_ENDPOINT;
    process.env.REKEY_TEST_MOTO_AVAILABLE = '0';
    notes.push(
      'moto_server: not installed — the KMS, Secrets Manager and SQS suites were NOT run (they fail with "NOT RUN: moto_server is not installed")',
    );
  }
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  process.env.AWS_REGION ??= 'us-east-1';
  // The SDK's notice that it will need Node 22 from 2027 repeats in every jest worker and buries the results;
  // README and package.json say which Node to use, and the Lambdas run Node 24.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  const line = `[rekey test harness] PostgreSQL: ${kind}; moto_server: ${moto ? 'running' : 'missing'}`;
  process.stderr.write(`\n${line}\n${notes.map((n) => `  ! ${n}\n`).join('')}`);
}

function choosePostgres(): PgKind {
  const forced = process.env.REKEY_TEST_PG;
  switch (forced) {
    case 'url':
      if (!process.env.DATABASE_URL) throw new Error('REKEY_TEST_PG=url but DATABASE_URL is not set');
      return 'url';
    case 'cluster':
      if (!findPostgresBinDir())
        throw new Error(
          'REKEY_TEST_PG=cluster but there are no server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin',
        );
      return 'cluster';
    case 'pglite':
      return 'pglite';
    case undefined:
    case '':
      if (process.env.DATABASE_URL) return 'url';
      return findPostgresBinDir() ? 'cluster' : 'pglite';
    default:
      throw new Error(`REKEY_TEST_PG=${forced} is not one of url, cluster, pglite`);
  }
}
