import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { AwsKmsAdapter } from '../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../functions/core/adapters/aws-secrets';
import { createDataApiSql } from '../../functions/core/adapters/data-api/sql';
import type { Keyring } from '../../functions/core/crypto/keyring';
import { HierarchicalKeyring } from '../../functions/core/crypto/keyrings/hierarchical';
import { addKeyVersion, createKeyset, generateWrappedKek } from '../../functions/core/crypto/keyrings/keyset-changes';
import { serializeKeyset } from '../../functions/core/crypto/keyrings/keyset-document';
import { KmsKeyring } from '../../functions/core/crypto/keyrings/kms';
import { RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { createFieldEncryption, type FieldEncryption } from '../../functions/core/field-encryption';
import type { SqlPool } from '../../functions/core/ports/sql';
import { startJob, type JobOutcome } from '../../functions/core/reencrypt/jobs/job-runner';
import { parseRegistry } from '../../functions/core/reencrypt/config/registry';
import type { FaultHook } from '../../functions/core/reencrypt/ports';
import { createEngineRuntime } from '../../functions/runtime/engine-runtime';
import { awsClientConfig, motoEndpoint } from '../support/aws';
import { startDataApiServer } from '../../functions/local/services/data-api/server';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { recordFigure, sized } from './support/figures';
import { checkVault, COLUMN, ctxOf, VAULT, valueOf } from './support/vault';

/**
 * Dependency faults on the wire, not through client mocks: the real AWS SDK
 * clients talk to moto through test/support/fault-proxy.ts, which answers
 * some requests with KMS's ThrottlingException (400) or Secrets Manager's 503
 * itself; the runner's PostgreSQL session is killed inside a batch's write
 * transaction (pg_terminate_backend); the Data API test endpoint answers
 * transient errors. Each fault is armed once the job is running (from the
 * engine's fault hook at a batch), retried with backoff (by the SDK, the Data
 * API adapter, or by claiming the failed batch again), and the job completes
 * with no row error and the old key retired only once nothing is under it.
 * A fault that never passes fails the job with a clear status and no partial
 * rows, and retires nothing.
 */
const ROWS = sized(400, 4000);
const BATCH = sized(50, 250);
const REGISTRY = parseRegistry({ tables: [{ name: VAULT, idColumn: 'id', columns: [COLUMN] }] }, 'dependency-faults');

let proxy: FaultProxy;
let kmsKeys: { v1: string; v2: string };

beforeAll(async () => {
  requireRealPostgres('a runner session is killed while another keeps working');
  proxy = await startFaultProxy(motoEndpoint());
  const kms = new KMSClient(awsClientConfig());
  const create = async (): Promise<string> =>
    (await kms.send(new CreateKeyCommand({ Description: 'rekey reliability' }))).KeyMetadata!.Arn!;
  kmsKeys = { v1: await create(), v2: await create() };
  kms.destroy();
});
afterAll(async () => {
  await proxy?.close();
});

/** SDK clients through the fault proxy (retries on, as shipped: the SDK's standard mode). */
const viaProxy = (): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} => ({ ...awsClientConfig(), endpoint: proxy.endpoint });

async function seed(sql: SqlPool, lib: FieldEncryption): Promise<void> {
  await sql.query(`CREATE TABLE ${VAULT} (id bigint PRIMARY KEY, ${COLUMN} text)`);
  const ids: string[] = [];
  const values: string[] = [];
  for (let id = 1; id <= ROWS; id++) {
    ids.push(String(id));
    values.push(await lib.encryptField(valueOf(id), ctxOf(id)));
  }
  await sql.query(`INSERT INTO ${VAULT} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, values]);
}

const expected = (): Map<number, string> =>
  new Map(Array.from({ length: ROWS }, (_, i) => [i + 1, valueOf(i + 1)] as const));

/** Runs a rewrap job to `target` on its own runtime; `arm` is called once, when the third batch is claimed. */
async function rotate(
  db: TestDatabase,
  options: {
    keyring: Keyring;
    target: string;
    sql?: SqlPool;
    batchSize?: number;
    arm: () => void | Promise<void>;
    extraFaults?: FaultHook;
  },
): Promise<{ outcome: JobOutcome; batchRetries: number; catalog: Record<string, string> }> {
  const runtime = await createEngineRuntime({
    databaseUrl: db.url,
    ...(options.sql ? { sql: options.sql } : {}),
    registry: REGISTRY,
    keyring: options.keyring,
    actor: 'reliability',
  });
  try {
    let armed = false;
    const faults: FaultHook = async (point, where) => {
      if (!armed && point === 'batch.claimed' && where?.seq === 2) {
        armed = true;
        await options.arm();
      }
      await options.extraFaults?.(point, where);
    };
    const outcome = await startJob(
      { ...runtime.deps, faults },
      {
        mode: 'rewrap',
        targetKeyId: options.target,
        batchSize: options.batchSize ?? BATCH,
        requestedBy: 'reliability',
      },
      { concurrency: 2 },
    );
    const { rows } = await db.sql.query<{ n: string }>(
      'SELECT coalesce(sum(attempts - 1), 0)::text AS n FROM rekey_job_batches WHERE job_id = $1::uuid',
      [outcome.job.id],
    );
    const keys = await db.sql.query<{ id: string; status: string }>('SELECT id, status FROM rekey_keys');
    return {
      outcome,
      batchRetries: Number(rows[0]!.n),
      catalog: Object.fromEntries(keys.rows.map((k) => [k.id, k.status])),
    };
  } finally {
    await runtime.close();
  }
}

/**
 * The figure every recovered fault records (job status, row errors, rows
 * lost/changed/undecryptable) and the outcome it must have: completed, every
 * row moved to the target, none lost, changed or unreadable.
 */
function expectCompletedWithNothingLost(
  fault: string,
  outcome: JobOutcome,
  check: Awaited<ReturnType<typeof checkVault>>,
): void {
  const c = outcome.job.counters;
  recordFigure({
    area: 'Dependency faults',
    figure: `${fault}: job status, row errors, rows lost/changed/undecryptable`,
    value: `${outcome.job.status}, ${c.rowsFailed}, ${check.lost}/${check.changed}/${check.undecryptable} of ${ROWS}`,
    goal: 'completed, 0, 0/0/0',
  });
  expect({ status: outcome.job.status, rowsFailed: c.rowsFailed, rowsDone: c.rowsDone }).toEqual({
    status: 'completed',
    rowsFailed: 0,
    rowsDone: ROWS,
  });
  expect(check).toMatchObject({ lost: 0, changed: 0, undecryptable: 0, notUnderTarget: 0 });
}

it(
  'KMS throttling and a PostgreSQL session killed mid-batch are retried; the job completes with no row error',
  async () => {
    const db = await migratedDatabase({ poolSize: 2 });
    try {
      const direct = new KmsKeyring({
        kms: AwsKmsAdapter.fromConfig(awsClientConfig()),
        keys: [{ id: 'kms-v1', kmsKeyId: kmsKeys.v1 }],
        primary: 'kms-v1',
      });
      await seed(db.sql, await createFieldEncryption({ keyring: direct }));
      const keys = [
        { id: 'kms-v2', kmsKeyId: kmsKeys.v2 },
        { id: 'kms-v1', kmsKeyId: kmsKeys.v1 },
      ];
      const keyring = new KmsKeyring({ kms: AwsKmsAdapter.fromConfig(viaProxy()), keys, primary: 'kms-v2' });
      const before = { ...proxy.stats.kms };
      let killed = 0;
      const { outcome, batchRetries, catalog } = await rotate(db, {
        keyring,
        target: 'kms-v2',
        // One KMS request in four is throttled (first attempts: the SDK's retry goes through).
        arm: () => proxy.arm({ service: 'kms', fault: 'throttle', attempts: 'first', every: 4, limit: sized(40, 200) }),
        extraFaults: async (point, where) => {
          // The fourth batch's write transaction loses its session after its UPDATE, before its commit.
          if (point === 'batch.written' && where?.seq === 4 && killed === 0) {
            const { rowCount } = await db.sql.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
            );
            killed += rowCount;
          }
        },
      });
      proxy.disarm('kms');
      const kms = { faults: proxy.stats.kms.faults - before.faults, retries: proxy.stats.kms.retries - before.retries };
      const lib = await createFieldEncryption({
        keyring: new KmsKeyring({ kms: AwsKmsAdapter.fromConfig(awsClientConfig()), keys, primary: 'kms-v2' }),
      });
      const check = await checkVault(db.sql, lib, expected(), 'kms-v2');

      recordFigure({
        area: 'Dependency faults',
        figure: 'KMS ThrottlingException (HTTP 400 on the wire) injected / SDK retries seen at the proxy',
        value: `${kms.faults} / ${kms.retries}`,
        goal: 'every fault retried',
      });
      recordFigure({
        area: 'Dependency faults',
        figure: 'PostgreSQL runner sessions killed inside a write transaction / batches claimed again',
        value: `${killed} / ${batchRetries}`,
        goal: '≥ 1 / ≥ 1',
      });

      expect(kms.faults).toBeGreaterThan(0);
      expect(kms.retries).toBeGreaterThanOrEqual(kms.faults);
      expect(killed).toBeGreaterThan(0);
      expect(batchRetries).toBeGreaterThan(0);
      expectCompletedWithNothingLost('KMS + PostgreSQL faults', outcome, check);
      // Retired only because verify found nothing left under it.
      expect(catalog).toMatchObject({ 'kms-v1': 'retired', 'kms-v2': 'active' });
    } finally {
      await db.drop();
    }
  },
  sized(180_000, 1_200_000),
);

it(
  'Secrets Manager unavailable (503) while the hierarchical keyring reloads its keyset: batches retried, the job completes',
  async () => {
    const db = await migratedDatabase({ poolSize: 2 });
    try {
      const admin = {
        kms: AwsKmsAdapter.fromConfig(awsClientConfig()),
        sm: new SecretsManagerClient(awsClientConfig()),
      };
      const v1 = await createKeyset(admin.kms, kmsKeys.v1);
      const secretId = (
        await admin.sm.send(
          new CreateSecretCommand({ Name: `rekey/reliability/${randomUUID()}`, SecretString: serializeKeyset(v1) }),
        )
      ).ARN!;
      const direct = new HierarchicalKeyring({ kms: admin.kms, secrets: new AwsSecretsAdapter(admin.sm), secretId });
      await seed(db.sql, await createFieldEncryption({ keyring: direct }));
      // The rotation hook's work: kek-v2 added as the primary.
      const v2 = addKeyVersion(v1, await generateWrappedKek(admin.kms, kmsKeys.v1, 'kek-v2'), { makePrimary: true });
      await admin.sm.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: serializeKeyset(v2),
          VersionStages: ['AWSCURRENT'],
        }),
      );
      const config = viaProxy();
      // A short keyset TTL makes the keyring go back to Secrets Manager during the job.
      const keyring = new HierarchicalKeyring({
        kms: AwsKmsAdapter.fromConfig(config),
        secrets: AwsSecretsAdapter.fromConfig(config),
        secretId,
        cacheTtlMs: 200,
      });
      const before = { ...proxy.stats.secretsmanager };
      const started = Date.now();
      let armedAt = 0;
      const { outcome, batchRetries, catalog } = await rotate(db, {
        keyring,
        target: 'kek-v2',
        // Every Secrets Manager request fails with 503 until six have (two keyset loads of three SDK attempts each).
        // The cached keyset is dropped at that moment, so the batch in hand must load it during the outage.
        arm: async () => {
          armedAt = Date.now();
          proxy.arm({ service: 'secretsmanager', fault: 'unavailable', attempts: 'all', limit: 6 });
          await keyring.refresh();
        },
      });
      proxy.disarm('secretsmanager');
      const sm = {
        faults: proxy.stats.secretsmanager.faults - before.faults,
        retries: proxy.stats.secretsmanager.retries - before.retries,
      };
      // A keyring that reads the keyset now (the seeding one cached the keyset without kek-v2).
      const reader = new HierarchicalKeyring({ kms: admin.kms, secrets: new AwsSecretsAdapter(admin.sm), secretId });
      const check = await checkVault(db.sql, await createFieldEncryption({ keyring: reader }), expected(), 'kek-v2');

      recordFigure({
        area: 'Dependency faults',
        figure:
          'Secrets Manager 503s injected / SDK retries seen / batches claimed again after the keyset could not be loaded',
        value: `${sm.faults} / ${sm.retries} / ${batchRetries} (job ran ${((Date.now() - started) / 1000).toFixed(1)} s, faults from ${((armedAt - started) / 1000).toFixed(1)} s)`,
        goal: '6 / ≥ 4 / ≥ 1',
      });

      expect(sm.faults).toBe(6);
      expect(sm.retries).toBeGreaterThanOrEqual(4);
      expect(batchRetries).toBeGreaterThan(0);
      expectCompletedWithNothingLost('Secrets Manager outage', outcome, check);
      expect(catalog).toMatchObject({ 'kek-v1': 'retired', 'kek-v2': 'active' });
    } finally {
      await db.drop();
    }
  },
  sized(180_000, 1_200_000),
);

it(
  'Data API transient errors are retried by the adapter; the job completes with no row error',
  async () => {
    const db = await migratedDatabase({ poolSize: 2 });
    const server = await startDataApiServer(db.url, { maxConnections: 8 });
    const client = new RDSDataClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    let seen = 0;
    // Counts the error answers the real SDK client received (each one the adapter then retried or gave up on).
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          seen++;
          throw err;
        }
      },
      { step: 'initialize', name: 'reliabilityFaultCounter' },
    );
    const sql = createDataApiSql({
      client,
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:rekey',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
      database: 'rekey',
      baseDelayMs: 20,
    });
    try {
      const keys = [
        { id: 'kek-2', key: Buffer.alloc(32, 2) },
        { id: 'kek-1', key: Buffer.alloc(32, 1) },
      ];
      await seed(db.sql, await createFieldEncryption({ keyring: new RawKeyring([keys[1]!]) }));
      // More ExecuteStatement failures in a row than the adapter's six attempts: the engine retries past them (a batch, or a claim, again).
      const injected = sized(12, 30);
      const { outcome, batchRetries } = await rotate(db, {
        sql,
        keyring: new RawKeyring(keys),
        target: 'kek-2',
        arm: () => {
          server.failNext('/Execute', 'ServiceUnavailableError', { times: (injected * 2) / 3 });
          server.failNext('/BeginTransaction', 'ThrottlingException', { times: injected / 6 });
          server.failNext('/CommitTransaction', 'ServiceUnavailableError', { times: injected / 6 });
        },
      });
      const check = await checkVault(
        db.sql,
        await createFieldEncryption({ keyring: new RawKeyring(keys) }),
        expected(),
        'kek-2',
      );

      recordFigure({
        area: 'Dependency faults',
        figure:
          'Data API transient errors injected (503 / 429 on the wire) / seen by the SDK client / batches claimed again',
        value: `${injected} / ${seen} / ${batchRetries}`,
        goal: `${injected} / ${injected} / any`,
      });

      expect(seen).toBe(injected);
      expectCompletedWithNothingLost('Data API faults', outcome, check);
    } finally {
      client.destroy();
      await server.close();
      await db.drop();
    }
  },
  sized(180_000, 1_200_000),
);

it(
  'a permanent fault (KMS throttling that never ends) fails the job with a clear status, no partial rows, nothing retired',
  async () => {
    const db = await migratedDatabase({ poolSize: 2 });
    try {
      const direct = new KmsKeyring({
        kms: AwsKmsAdapter.fromConfig(awsClientConfig()),
        keys: [{ id: 'kms-v1', kmsKeyId: kmsKeys.v1 }],
        primary: 'kms-v1',
      });
      await seed(db.sql, await createFieldEncryption({ keyring: direct }));
      const keys = [
        { id: 'kms-v2', kmsKeyId: kmsKeys.v2 },
        { id: 'kms-v1', kmsKeyId: kmsKeys.v1 },
      ];
      const before = { ...proxy.stats.kms };
      const { outcome, catalog } = await rotate(db, {
        keyring: new KmsKeyring({ kms: AwsKmsAdapter.fromConfig(viaProxy()), keys, primary: 'kms-v2' }),
        target: 'kms-v2',
        // Few, large batches: each fails its five attempts, every SDK call within them throttled to the end.
        batchSize: Math.ceil(ROWS / 3),
        arm: () => proxy.arm({ service: 'kms', fault: 'throttle', attempts: 'all', limit: Number.MAX_SAFE_INTEGER }),
      });
      proxy.disarm('kms');
      const faults = proxy.stats.kms.faults - before.faults;
      const { rows: batches } = await db.sql.query<{ status: string; n: string; error: string | null }>(
        `SELECT status, count(*)::text AS n, max(error) AS error FROM rekey_job_batches WHERE job_id = $1::uuid GROUP BY status`,
        [outcome.job.id],
      );
      const byStatus = Object.fromEntries(batches.map((b) => [b.status, b]));
      // Every row is whole: either still under kms-v1 (its batch failed) or moved by a batch that committed before the fault.
      const lib = await createFieldEncryption({
        keyring: new KmsKeyring({ kms: AwsKmsAdapter.fromConfig(awsClientConfig()), keys, primary: 'kms-v2' }),
      });
      const check = await checkVault(db.sql, lib, expected(), 'kms-v2');
      const { rows: moved } = await db.sql.query<{ n: string }>(
        `SELECT coalesce(sum(rows_done), 0)::text AS n FROM rekey_job_batches WHERE job_id = $1::uuid AND status = 'done'`,
        [outcome.job.id],
      );

      recordFigure({
        area: 'Dependency faults',
        figure:
          'permanent KMS throttling: faults injected / job status / failed batches / rows moved outside done batches / key retired',
        value: `${faults} / ${outcome.job.status} / ${byStatus.failed?.n ?? 0} / ${ROWS - check.notUnderTarget - Number(moved[0]!.n)} / ${catalog['kms-v1']}`,
        goal: 'any / failed / ≥ 1 / 0 / not retired',
      });

      expect(outcome.job.status).toBe('failed');
      expect(outcome.job.error).toMatch(/\d+ batch\(es\) failed 5 times; resume the job once the cause is fixed/);
      expect(byStatus.failed?.error).toMatch(/KeyringUnavailableError .*ThrottlingException/);
      // No partial rows: what moved is exactly what the done batches counted; nothing else changed, lost or broke.
      expect(ROWS - check.notUnderTarget).toBe(Number(moved[0]!.n));
      expect(check).toMatchObject({ lost: 0, changed: 0, undecryptable: 0 });
      expect(outcome.job.counters.rowsFailed).toBe(0);
      expect(catalog['kms-v1']).not.toBe('retired');
    } finally {
      await db.drop();
    }
  },
  sized(180_000, 1_200_000),
);
