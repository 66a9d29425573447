import './log-everything';
import { randomUUID } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import type { SQSEvent } from 'aws-lambda';
import { AwsKmsAdapter } from '../../functions/core/adapters/aws-kms';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { KmsKeyring } from '../../functions/core/crypto/keyrings/kms';
import type { EncryptedColumnRegistry } from '../../lib/registry';
import { handler as enqueue } from '../../functions/handlers/enqueue';
import { handler as finalize } from '../../functions/handlers/finalize';
import { handler as inventory } from '../../functions/handlers/inventory';
import { handler as plan } from '../../functions/handlers/plan';
import { handler as progress } from '../../functions/handlers/progress';
import { handler as validateInput } from '../../functions/handlers/validate-input';
import { handler as verify } from '../../functions/handlers/verify';
import { handler as worker } from '../../functions/handlers/worker';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { awsClientConfig } from '../support/aws';
import { startDataApiServer, type DataApiServer } from '../../functions/local/services/data-api/server';
import { freshDatabase, type TestDatabase } from '../support/database';
import { SYNTH_TIMEOUT_MS } from '../infra/support';
import {
  asDeployedFunction,
  createMotoQueues,
  kmsStackEnvironments,
  type AsFunction,
  type MotoQueues,
} from './support/deployed-functions';
import { PROGRESS_DEFAULTS } from '../../lib/defaults';

/**
 * Every handler run with exactly the environment the synthesized template
 * gives its function — nothing borrowed from another function — against a
 * fresh, unmigrated database behind the Data API (the test endpoint over the
 * real PostgreSQL), moto's SQS and KMS, and the kms keyring as a kms-mode
 * stack deploys it. Only the AWS plumbing (region, credentials, endpoints)
 * comes from the test. A variable a handler needs but its function lacks
 * fails here, as it would on AWS.
 */
jest.setTimeout(SYNTH_TIMEOUT_MS);

const ROWS = 12;
const REGISTRY: EncryptedColumnRegistry = {
  tables: [
    {
      name: 'users',
      idColumn: 'id',
      columns: ['email_encrypted'],
      encrypt: { email: { target: 'email_encrypted', clearSource: true } },
    },
  ],
} as EncryptedColumnRegistry;

describe('handlers with the environment the template gives their functions', () => {
  let db: TestDatabase;
  let dataApi: DataApiServer;
  let queues: MotoQueues;
  let asFunction: AsFunction;
  const saved = { ...process.env };
  let plumbing: ReturnType<typeof awsClientConfig>;

  beforeAll(async () => {
    plumbing = awsClientConfig(); // read now: each function's process.env below leaves out the harness's variables
    db = await freshDatabase();
    await db.sql.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, email_encrypted text)');
    for (let i = 1; i <= ROWS; i++)
      await db.sql.query('INSERT INTO users (id, email) VALUES ($1, $2)', [i, `plain-secret-${i}@example.com`]);
    dataApi = await startDataApiServer(db.url);
    queues = await createMotoQueues(plumbing, 'synth-env');
    asFunction = asDeployedFunction({ plumbing, dataApiEndpoint: dataApi.endpoint, path: saved.PATH });
  });

  afterAll(async () => {
    await resetPipelineContainer();
    process.env = { ...saved };
    await queues.delete();
    await dataApi.close();
    await db.drop();
  });

  /** The stack a kms-mode deployment synthesizes, and each function's environment made concrete. */
  const synthesizedEnvironments = () =>
    kmsStackEnvironments({
      plumbing,
      registry: REGISTRY,
      queues,
      keyDescription: 'rekey synthesized-environment test',
    });

  it('a first execution on a fresh database runs from ValidateInput to Finalize and the inventory', async () => {
    const env = await synthesizedEnvironments();
    const executionId = `arn:aws:states:us-east-1:123456789012:execution:rekey:${randomUUID()}`;

    // The database has no rekey tables yet: ValidateInput applies the migrations and registers the stack's KMS key.
    const request = await asFunction('ValidateInput', env.ValidateInput!, (c) =>
      validateInput({ executionId, input: { mode: 'encrypt' }, defaults: { batchSize: 5, maxErrorRate: 0.01 } }, c),
    );
    const keys = await db.sql.query<{ id: string; status: string; kms_key_arn: string }>(
      'SELECT id, status, kms_key_arn FROM rekey_keys',
    );
    expect(keys.rows).toEqual([{ id: 'kms-v1', status: 'active', kms_key_arn: env.Worker!.KMS_KEY_ARN }]);

    const job = await asFunction('Plan', env.Plan!, (c) => plan({ executionId, request }, c));
    expect(job).toMatchObject({ rowsTotal: ROWS, rowsToChange: ROWS, batchesTotal: 3 });
    const enqueued = await asFunction('Enqueue', env.Enqueue!, (c) =>
      enqueue({ executionId, jobId: job.jobId, maxBatches: 100 }, c),
    );
    expect(enqueued).toEqual({ batchesEnqueued: 3, batchesLeft: 0 });
    const records = await queues.receiveRecords();
    expect(records).toHaveLength(3);
    const worked = await asFunction('Worker', env.Worker!, (c) => worker({ Records: records } satisfies SQSEvent, c));
    expect(worked).toEqual({ batchItemFailures: [] });

    const wait = PROGRESS_DEFAULTS; // the pacing the state machine passes by default
    expect(
      await asFunction('CheckProgress', env.CheckProgress!, (c) =>
        progress({ executionId, jobId: job.jobId, ...wait }, c),
      ),
    ).toMatchObject({
      rowsDone: ROWS,
      rowsFailed: 0,
      batchesRemaining: 0,
    });
    expect(await asFunction('Verify', env.Verify!, (c) => verify({ executionId, jobId: job.jobId }, c))).toEqual({
      rowsOnOldKeys: 0,
      rowsFailed: 0,
    });
    expect(await asFunction('Finalize', env.Finalize!, (c) => finalize({ executionId, jobId: job.jobId }, c))).toEqual({
      retiredKeyIds: [],
    });
    expect(await asFunction('Inventory', env.Inventory!, (c) => inventory({ source: 'schedule' }, c))).toMatchObject({
      tables: 1,
      overdueRows: 0,
    });

    const rows = await db.sql.query<{ id: string; email: string | null; email_encrypted: string }>(
      'SELECT id::text AS id, email, email_encrypted FROM users ORDER BY id',
    );
    expect(rows.rows.every((r) => r.email === null && r.email_encrypted.startsWith('rk1:'))).toBe(true);
    // What encrypt mode wrote decrypts, through KMS, to the plaintext each row held, and only in its own row.
    const kmsClient = new KMSClient(plumbing); // process.env is the last function's: the harness's variables are in `plumbing`
    const reader = await EnvelopeCipher.create({
      keyring: new KmsKeyring({
        kms: new AwsKmsAdapter(kmsClient),
        keys: [{ id: 'kms-v1', kmsKeyId: env.Worker!.KMS_KEY_ARN! }],
        primary: 'kms-v1',
      }),
    });
    const where = (id: string) => ({ table: 'users', column: 'email_encrypted', rowId: id, tenant: null });
    for (const r of rows.rows)
      expect((await reader.decrypt(r.email_encrypted, where(r.id))).toString()).toBe(
        `plain-secret-${r.id}@example.com`,
      );
    await expect(reader.decrypt(rows.rows[0]!.email_encrypted, where(rows.rows[1]!.id))).rejects.toThrow();
    kmsClient.destroy();
    const status = await db.sql.query<{ status: string }>('SELECT status FROM rekey_jobs WHERE id = $1', [job.jobId]);
    expect(status.rows[0]!.status).toBe('completed');
    expect(dataApi.calls['/Execute'] ?? 0).toBeGreaterThan(0); // the handlers really went through the Data API
  });
});
