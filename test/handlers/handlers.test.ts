import './log-everything';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context, SQSEvent } from 'aws-lambda';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { InvalidInputError } from '../../functions/core/pipeline/errors';
import { KeyCatalog } from '../../functions/core/keys/catalog';
import { RotationStateError } from '../../functions/core/rotation/errors';
import { handler as markFailed } from '../../functions/handlers/mark-failed';
import { handler as plan } from '../../functions/handlers/plan';
import { handler as rotation } from '../../functions/handlers/rotation';
import { handler as validateInput } from '../../functions/handlers/validate-input';
import { handler as worker } from '../../functions/handlers/worker';
import { resetPipelineContainer } from '../../functions/runtime/pipeline-container';
import { EXAMPLE_TABLE } from '../../functions/core/schema/example-table';
import { migratedDatabase, type TestDatabase } from '../support/database';
import { lambdaContext, sqsRecord } from '../support/lambda';
import { executionRequest, executionArn } from '../support/execution-input';

/** Each handler called as Lambda calls it: real event shapes, real PostgreSQL, output and logs checked for secrets. */
// The worker's default timeout: room for two batches of the 75 s budget.
const context = lambdaContext('test', { remainingMs: 180_000 });
const v1 = randomBytes(32);
const v2 = randomBytes(32);

describe('Lambda handlers', () => {
  let db: TestDatabase;
  let logged = '';
  const saved = { ...process.env };
  let writeSpy: jest.SpyInstance;
  let errSpy: jest.SpyInstance;

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query('CREATE TABLE secrets (id bigint PRIMARY KEY, v text)');
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: v1 }]) });
    for (let i = 1; i <= 30; i++) {
      await db.sql.query('INSERT INTO secrets VALUES ($1, $2)', [
        i,
        await cipher.encrypt(`plain-secret-${i}`, { table: 'secrets', column: 'v', rowId: String(i) }),
      ]);
    }
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      KEYRING_KIND: 'raw',
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', v2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', v1),
      REKEY_REGISTRY: JSON.stringify({ tables: [{ name: 'secrets', idColumn: 'id', columns: ['v'] }] }),
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    await resetPipelineContainer();
    logged = '';
    const capture = (chunk: string | Uint8Array): boolean => {
      logged += chunk.toString();
      return true;
    };
    writeSpy = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    errSpy = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  });
  afterEach(async () => {
    writeSpy.mockRestore();
    errSpy.mockRestore();
    await resetPipelineContainer();
    process.env = { ...saved };
    await db.drop();
    expect(logged.length).toBeGreaterThan(0); // the handlers did log: the scan below means something
    expect(logged).not.toMatch(/plain-secret-\d+/);
    expect(logged).not.toContain(v1.toString('base64'));
    expect(logged).not.toContain(v2.toString('base64'));
  });

  it('ValidateInput lists every problem of a bad execution input', async () => {
    const err = await validateInput(
      { executionId: 'arn:exec:1', input: { mode: 'shred', batchSize: 0, tables: ['nope'], extra: 1 }, defaults: {} },
      context,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems).toHaveLength(4);
    const ok = await validateInput(
      { executionId: 'arn:exec:1', input: { mode: 'rewrap' }, defaults: { batchSize: 2000, maxErrorRate: 0.01 } },
      context,
    );
    expect(ok).toEqual({
      mode: 'rewrap',
      tables: null,
      batchSize: 2000,
      dryRun: false,
      maxErrorRate: 0.01,
      targetKeyId: null,
      tenant: null,
    });
    // A tenant without its own key: nothing would move to a tenant key, so the execution is refused.
    const tenant = await validateInput(
      { executionId: 'arn:exec:1', input: { mode: 'rewrap', tenant: 'acme' }, defaults: {} },
      context,
    ).catch((e: unknown) => e);
    expect((tenant as InvalidInputError).problems).toEqual([
      expect.stringMatching(
        /^tenant: "acme" has no active key of its own \(add one with `rekey keys add --tenant acme`/,
      ),
    ]);
  });

  it('the SQS worker runs real batches and reports only the malformed record as a failure', async () => {
    const executionId = executionArn();
    const planned = (await plan(
      {
        executionId,
        request: executionRequest(),
      },
      context,
    )) as {
      jobId: string;
      batchesTotal: number;
    };
    expect(planned.batchesTotal).toBe(3);
    const record = (body: string, messageId: string) => sqsRecord(body, { messageId });
    const event: SQSEvent = {
      Records: [
        record(JSON.stringify({ jobId: planned.jobId, batchId: 'secrets#1' }), 'm1'),
        record('not json at all', 'm2'),
        record(JSON.stringify({ jobId: planned.jobId, batchId: 'secrets#1' }), 'm3'), // a duplicate delivery
      ],
    };
    const response = (await worker(event, context)) as { batchItemFailures: { itemIdentifier: string }[] };
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    const { rows } = await db.sql.query<{ rows_done: string }>('SELECT rows_done FROM rekey_jobs WHERE id = $1', [
      planned.jobId,
    ]);
    expect(rows[0]!.rows_done).toBe('10'); // the duplicate counted once
  });

  it('the worker claims no batch it has no time left to finish: the rest of the delivery comes back as item failures', async () => {
    const executionId = executionArn();
    const request = executionRequest();
    const planned = (await plan({ executionId, request }, context)) as { jobId: string; batchesTotal: number };
    const record = (n: number) =>
      sqsRecord(JSON.stringify({ jobId: planned.jobId, batchId: `secrets#${n}` }), { messageId: `m${n}` });
    const event: SQSEvent = { Records: [record(0), record(1), record(2)] };
    // Enough for one batch (75 s budget) at the start; the clock then moves past the budget.
    let remaining = 100_000;
    const shortContext = {
      ...context,
      getRemainingTimeInMillis: () => {
        const now = remaining;
        remaining -= 30_000;
        return now;
      },
    } as Context;
    const response = (await worker(event, shortContext)) as { batchItemFailures: { itemIdentifier: string }[] };
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]);
    const { rows } = await db.sql.query<{ seq: number; status: string; attempts: number }>(
      'SELECT seq, status, attempts FROM rekey_job_batches WHERE job_id = $1 ORDER BY seq',
      [planned.jobId],
    );
    // Batch 0 ran; batches 1 and 2 were never claimed (no attempt recorded).
    expect(rows.map((r) => [r.seq, r.status, Number(r.attempts)])).toEqual([
      [0, 'done', 1],
      [1, 'pending', 0],
      [2, 'pending', 0],
    ]);
    expect(logged).toMatch(/not claimed: \d+ ms of the invocation left, a batch needs 75000 ms/);

    // WORKER_BATCH_BUDGET_MS from the stack sets the budget; redelivered with time to spare, they run.
    process.env.WORKER_BATCH_BUDGET_MS = '1000';
    const again = (await worker({ Records: [record(1), record(2)] }, {
      ...context,
      getRemainingTimeInMillis: () => 5_000,
    } as Context)) as { batchItemFailures: unknown[] };
    expect(again.batchItemFailures).toEqual([]);
    const after = await db.sql.query<{ status: string }>(
      'SELECT status FROM rekey_job_batches WHERE job_id = $1 ORDER BY seq',
      [planned.jobId],
    );
    expect(after.rows.map((r) => r.status)).toEqual(['done', 'done', 'done']);
  });

  it('functions deployed without key access plan from the catalog alone', async () => {
    await new KeyCatalog(db.sql).add({ id: 'kek-v1', keyring: 'raw', status: 'rotating' });
    await new KeyCatalog(db.sql).add({ id: 'kek-v2', keyring: 'raw', status: 'active' });
    delete process.env.KEYRING_KIND;
    delete process.env.SECRETS_ENCRYPTION_KEY;
    delete process.env.SECRETS_ENCRYPTION_KEY_PREVIOUS;
    await resetPipelineContainer();
    const request = executionRequest();
    const planned = (await plan({ executionId: `arn:exec:${randomUUID()}`, request }, context)) as {
      rowsToChange: number;
      batchesTotal: number;
    };
    expect(planned).toMatchObject({ rowsToChange: 30, batchesTotal: 3 });
  });

  it('on a trial stack (REKEY_TRIAL_EXAMPLE_TABLE), ValidateInput creates the example table once, with its seed rows', async () => {
    Object.assign(process.env, {
      REKEY_TRIAL_EXAMPLE_TABLE: 'true',
      REKEY_REGISTRY: JSON.stringify({
        tables: [
          {
            name: EXAMPLE_TABLE.name,
            idColumn: 'id',
            columns: [EXAMPLE_TABLE.column],
            keyIdColumn: EXAMPLE_TABLE.keyIdColumn,
          },
        ],
      }),
    });
    await resetPipelineContainer();
    const ok = await validateInput(
      { executionId: 'arn:exec:trial', input: { mode: 'encrypt' }, defaults: {} },
      context,
    );
    expect(ok).toMatchObject({ mode: 'encrypt' });
    const count = async () =>
      (
        await db.sql.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${EXAMPLE_TABLE.name} WHERE ${EXAMPLE_TABLE.column} LIKE '%@example.com'`,
        )
      ).rows[0]!.n;
    expect(await count()).toBe(String(EXAMPLE_TABLE.seedRows));
    // Idempotent: another container (a fresh runtime) finds the table and adds nothing.
    await resetPipelineContainer();
    await validateInput({ executionId: 'arn:exec:trial-2', input: { mode: 'encrypt' }, defaults: {} }, context);
    expect(await count()).toBe(String(EXAMPLE_TABLE.seedRows));
  });

  it('MarkFailed tolerates an execution that never got a job', async () => {
    await expect(markFailed({ executionId: 'arn:exec:none', error: 'States.TaskFailed' }, context)).resolves.toEqual({
      jobId: null,
    });
  });

  it('the rotation function refuses malformed rotation events', async () => {
    await expect(
      rotation({ Step: 'dropSecret', SecretId: 'arn:aws:secretsmanager:x', ClientRequestToken: randomUUID() }, context),
    ).rejects.toBeInstanceOf(RotationStateError);
    await expect(
      rotation({ Step: 'createSecret', SecretId: '', ClientRequestToken: 'short' }, context),
    ).rejects.toThrow(/SecretId is required; ClientRequestToken/);
  });
});
