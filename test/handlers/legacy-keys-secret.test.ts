import './log-everything';
import { randomBytes, randomUUID } from 'node:crypto';
import { CreateSecretCommand, DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSEvent } from 'aws-lambda';
import { ENV as FUNCTION_ENV } from '../../lib/environment';
import type { EncryptedColumnRegistry } from '../../lib/registry';
import { FernetReader } from '../../functions/core/crypto/legacy/fernet';
import { fernetKeyId } from '../../functions/core/crypto/legacy/fernet-keys';
import { handler as enqueue } from '../../functions/handlers/enqueue';
import { handler as finalize } from '../../functions/handlers/finalize';
import { handler as inventory } from '../../functions/handlers/inventory';
import { handler as plan } from '../../functions/handlers/plan';
import { handler as progress } from '../../functions/handlers/progress';
import { handler as validateInput } from '../../functions/handlers/validate-input';
import { handler as verify } from '../../functions/handlers/verify';
import { handler as worker } from '../../functions/handlers/worker';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { startDataApiServer, type DataApiServer } from '../../functions/local/services/data-api/server';
import { awsClientConfig } from '../support/aws';
import { freshDatabase, type TestDatabase } from '../support/database';
import {
  asDeployedFunction,
  createMotoQueues,
  kmsStackEnvironments,
  type AsFunction,
  type MotoQueues,
} from './support/deployed-functions';
import { runPythonJson } from '../support/python';
import { SYNTH_TIMEOUT_MS } from '../infra/support';
import { PROGRESS_DEFAULTS } from '../../lib/defaults';

/**
 * A Fernet table rotated on the deployed path: every handler runs with the
 * environment the synthesized template gives its function (kms keyring, a
 * legacy keys secret), the Fernet keys come ONLY from that secret in moto's
 * Secrets Manager, and Python's cryptography (MultiFernet with the new key
 * alone) reads every rotated token back, timestamp kept.
 */
jest.setTimeout(SYNTH_TIMEOUT_MS);

const ROWS = 9;
const TABLE = 'users';
const REGISTRY: EncryptedColumnRegistry = {
  tables: [{ name: TABLE, idColumn: 'id', columns: ['email'], format: 'fernet' }],
};
const plaintextOf = (i: number): string => `user-${i}@example.com`;

describe('Fernet rotation with the keys from the legacy keys secret', () => {
  let db: TestDatabase;
  let dataApi: DataApiServer;
  let queues: MotoQueues;
  let asFunction: AsFunction;
  let secrets: SecretsManagerClient;
  const createdSecrets: string[] = [];
  const saved = { ...process.env };
  let plumbing: ReturnType<typeof awsClientConfig>;
  // As Fernet.generate_key() writes them.
  const fernet = {
    old: `${randomBytes(32).toString('base64url')}=`,
    current: `${randomBytes(32).toString('base64url')}=`,
  };
  const times = Array.from({ length: ROWS }, (_, i) => Math.floor(Date.now() / 1000) - 86_400 * (i * 11) - i);

  // Everything the handlers write (Powertools logs go to stdout), scanned for keys and plaintexts at the end.
  const written: string[] = [];
  beforeAll(async () => {
    const write = process.stdout.write.bind(process.stdout);
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    });
    plumbing = awsClientConfig();
    db = await freshDatabase();
    const made = runPythonJson<{ fernet: string[] }>('legacy_oracle.py', {
      op: 'make',
      fernet_key: fernet.old,
      kek_id: 'kek-v1',
      kek: randomBytes(32).toString('base64'),
      plaintexts: Array.from({ length: ROWS }, (_, i) => plaintextOf(i + 1)),
      times,
    });
    await db.sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, email text)`);
    await db.sql.query(`INSERT INTO ${TABLE} SELECT * FROM unnest($1::bigint[], $2::text[])`, [
      Array.from({ length: ROWS }, (_, i) => String(i + 1)),
      made.fernet,
    ]);
    dataApi = await startDataApiServer(db.url);
    queues = await createMotoQueues(plumbing, 'legacy-keys');
    secrets = new SecretsManagerClient(plumbing);
    asFunction = asDeployedFunction({ plumbing, dataApiEndpoint: dataApi.endpoint, path: saved.PATH });
  });

  afterAll(async () => {
    await resetPipelineContainer();
    process.env = { ...saved };
    for (const id of createdSecrets)
      await secrets.send(new DeleteSecretCommand({ SecretId: id, ForceDeleteWithoutRecovery: true }));
    await queues.delete();
    secrets.destroy();
    await dataApi.close();
    await db.drop();
  });

  async function legacySecret(value: string): Promise<string> {
    const out = await secrets.send(
      new CreateSecretCommand({ Name: `app-legacy-keys-${randomUUID().slice(0, 8)}`, SecretString: value }),
    );
    createdSecrets.push(out.ARN!);
    return out.ARN!;
  }

  const synthesizedEnvironments = (legacyKeysSecretArn: string) =>
    kmsStackEnvironments({
      plumbing,
      registry: REGISTRY,
      queues,
      keyDescription: 'rekey legacy keys secret test',
      legacyKeysSecretArn,
    });

  it('rotates every token to ENCRYPTION_KEY from the secret, readable by Python with the new key alone, and retires the old key', async () => {
    const secretArn = await legacySecret(
      JSON.stringify({ ENCRYPTION_KEY: fernet.current, ENCRYPTION_KEY_FALLBACK: fernet.old }),
    );
    const env = await synthesizedEnvironments(secretArn);
    for (const fn of ['ValidateInput', 'Plan', 'Verify', 'Finalize', 'Worker', 'Inventory'])
      expect(env[fn]![FUNCTION_ENV.legacyKeysSecretArn]).toBe(secretArn);
    for (const e of Object.values(env))
      for (const value of Object.values(e))
        for (const key of Object.values(fernet)) expect(value).not.toContain(key.slice(0, 43));
    const executionId = `arn:aws:states:us-east-1:123456789012:execution:rekey:${randomUUID()}`;

    const request = await asFunction('ValidateInput', env.ValidateInput!, (c) =>
      validateInput({ executionId, input: { mode: 'reencrypt' }, defaults: { batchSize: 4, maxErrorRate: 0.01 } }, c),
    );
    // ValidateInput registered the Fernet keys it read from the secret: the new one active, the old one rotating.
    const fernetKeys = await db.sql.query<{ id: string; status: string }>(
      `SELECT id, status FROM rekey_keys WHERE keyring = 'fernet' ORDER BY status`,
    );
    expect(fernetKeys.rows).toEqual([
      { id: fernetKeyId(fernet.current), status: 'active' },
      { id: fernetKeyId(fernet.old), status: 'rotating' },
    ]);

    const job = await asFunction('Plan', env.Plan!, (c) => plan({ executionId, request }, c));
    expect(job).toMatchObject({ rowsTotal: ROWS, rowsToChange: ROWS, batchesTotal: 3 });
    expect(
      await asFunction('Enqueue', env.Enqueue!, (c) => enqueue({ executionId, jobId: job.jobId, maxBatches: 100 }, c)),
    ).toEqual({ batchesEnqueued: 3, batchesLeft: 0 });
    const records = await queues.receiveRecords();
    expect(await asFunction('Worker', env.Worker!, (c) => worker({ Records: records } satisfies SQSEvent, c))).toEqual({
      batchItemFailures: [],
    });
    const wait = PROGRESS_DEFAULTS; // the pacing the state machine passes by default
    expect(
      await asFunction('CheckProgress', env.CheckProgress!, (c) =>
        progress({ executionId, jobId: job.jobId, ...wait }, c),
      ),
    ).toMatchObject({ rowsDone: ROWS, rowsFailed: 0, batchesRemaining: 0 });
    expect(await asFunction('Verify', env.Verify!, (c) => verify({ executionId, jobId: job.jobId }, c))).toEqual({
      rowsOnOldKeys: 0,
      rowsFailed: 0,
    });
    expect(await asFunction('Finalize', env.Finalize!, (c) => finalize({ executionId, jobId: job.jobId }, c))).toEqual({
      retiredKeyIds: [fernetKeyId(fernet.old)],
    });
    expect(await asFunction('Inventory', env.Inventory!, (c) => inventory({ source: 'schedule' }, c))).toMatchObject({
      tables: 1,
      overdueRows: 0,
    });

    const rows = (
      await db.sql.query<{ id: string; email: string }>(`SELECT id::text AS id, email FROM ${TABLE} ORDER BY id`)
    ).rows;
    const read = runPythonJson<{ fernet: { plaintext: string; timestamp: number }[] }>('legacy_oracle.py', {
      op: 'read',
      fernet_keys: [fernet.current],
      fernet: rows.map((r) => r.email),
      keks: {},
      json: [],
    });
    rows.forEach((r, i) => {
      expect(read.fernet[i]!.plaintext).toBe(plaintextOf(Number(r.id)));
      expect(read.fernet[i]!.timestamp).toBe(times[Number(r.id) - 1]);
    });
    // And no longer under the old key.
    const oldOnly = FernetReader.fromKeys([fernet.old]);
    for (const r of rows) await expect(oldOnly.decrypt(r.email)).rejects.toThrow(/HMAC verifies under none/);

    // The handlers logged every event and line at DEBUG: no key, no plaintext.
    const logs = written.join('');
    expect(logs).toContain('rekey-Worker');
    for (const key of Object.values(fernet)) expect(logs).not.toContain(key.slice(0, 43));
    expect(logs).not.toMatch(/user-\d+@example\.com/);
  });

  it('a malformed secret stops the function with an error naming the field, never the value', async () => {
    const stray = `${randomBytes(32).toString('base64url')}=`;
    const secretArn = await legacySecret(
      JSON.stringify({ ENCRYPTION_KEY: fernet.current, FERNET_KEY: stray, ENCRYPTION_KEY_FALLBACK: 'not-a-key' }),
    );
    const env = await synthesizedEnvironments(secretArn);
    const executionId = `arn:aws:states:us-east-1:123456789012:execution:rekey:${randomUUID()}`;
    const failure = await asFunction('ValidateInput', env.ValidateInput!, (c) =>
      validateInput({ executionId, input: { mode: 'reencrypt' } }, c),
    ).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(failure?.message).toMatch(
      new RegExp(
        `legacy keys secret ${secretArn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(AWSCURRENT\\): unknown field "FERNET_KEY"`,
      ),
    );
    for (const value of [stray, fernet.current, 'not-a-key']) expect(failure!.message).not.toContain(value);
  });
});
