import { randomBytes } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import type { RotationPlan } from '../../../functions/core/plan/estimate';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { formatRawKey, RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import {
  runLocalPipeline,
  type LocalHandler,
  type LocalPipelineOptions,
  type LocalPipelineRun,
} from '../../../functions/local/pipeline';
import { EVENTS_PER_ENQUEUE, EVENTS_PER_POLL, FIXED_EVENTS } from '../../../lib/history-budget';
import { EXECUTION_ERRORS } from '../../../lib/reencryption-definition';
import { synthesizeStateMachineDefinition } from '../../../lib/synthesize-definition';
import { motoEndpoint } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';

/**
 * The synthesized state machine (cdk synth output, not a copy) executed with
 * aws-local-stepfunctions, every Task routed to the real handler, batches
 * through a real SQS queue in moto into the real worker handler, on a real
 * PostgreSQL. Everything the run emits — log lines (the handlers log their
 * whole events here), queue messages, task results, state outputs — is
 * scanned for the test's plaintexts and keys.
 */
const ROWS = 2500;
const v1 = randomBytes(32);
const v2 = randomBytes(32);
const TABLE = 'llm_providers';
const registry = { tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] };
const definition = synthesizeStateMachineDefinition();
const plaintext = (i: number): string => `sk-plain-${i}-${'x'.repeat(100)}`;
const PLAINTEXT = /sk-plain-\d+/;

// Every log line the handlers can write, their whole events included.
process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';

/** Events Step Functions records for a state (docs/state-machine.md, "History events"): a Task 5, Choice/Wait/Succeed 2, Fail 1. */
function historyEvents(states: readonly { type: string }[]): number {
  return states.reduce((sum, s) => sum + (s.type === 'Task' ? 5 : s.type === 'Fail' ? 1 : 2), 0);
}

describe('local pipeline: synthesized state machine + handlers + SQS + PostgreSQL', () => {
  let db: TestDatabase;
  let emitted: string[];
  let spies: jest.SpyInstance[];

  const record = (what: unknown): void => void emitted.push(typeof what === 'string' ? what : JSON.stringify(what));

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, api_key_encrypted text)`);
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: v1 }]) });
    const ids: string[] = [];
    const values: string[] = [];
    for (let i = 1; i <= ROWS; i++) {
      ids.push(String(i));
      values.push(await cipher.encrypt(plaintext(i), { table: TABLE, column: 'api_key_encrypted', rowId: String(i) }));
    }
    await db.sql.query(`INSERT INTO ${TABLE} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, values]);
    emitted = [];
    spies = [
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        jest.spyOn(console, m).mockImplementation((...args: unknown[]) => args.forEach(record)),
      ),
      jest
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk: string | Uint8Array) => (record(chunk.toString()), true)),
      jest
        .spyOn(process.stderr, 'write')
        .mockImplementation((chunk: string | Uint8Array) => (record(chunk.toString()), true)),
    ];
  });

  afterEach(async () => {
    spies.forEach((s) => s.mockRestore());
    await db.drop();
    const all = emitted.join('\n');
    expect(emitted.length).toBeGreaterThan(0); // the scan below saw something
    expect(all).not.toMatch(PLAINTEXT);
    for (const key of [v1, v2]) {
      expect(all).not.toContain(key.toString('base64'));
      expect(all).not.toContain(key.toString('hex'));
    }
  });

  /** One execution; every queue message the worker received and every state's output go into the scan. */
  async function run(
    input: unknown,
    extra: Partial<LocalPipelineOptions> = {},
  ): Promise<LocalPipelineRun & { stateOutputs: { state: string; bytes: number }[] }> {
    const stateOutputs: { state: string; bytes: number }[] = [];
    const wrapWorker =
      (handler: LocalHandler): LocalHandler =>
      async (event, context) => {
        for (const r of (event as SQSEvent).Records) record(r.body);
        return handler(event, context);
      };
    const result = await runLocalPipeline({
      input,
      databaseUrl: db.url,
      sqsEndpoint: motoEndpoint(),
      registry,
      definition,
      keyEnv: {
        SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', v2),
        SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', v1),
      },
      ...extra,
      wrap: (name, handler) => {
        const wrapped = extra.wrap ? extra.wrap(name, handler) : handler;
        return name === 'Worker' ? wrapWorker(wrapped) : wrapped;
      },
      onEvent: (event) => {
        if (event.type === 'StateExited') {
          const state = event.state as { name: string; output?: unknown };
          const text = JSON.stringify(state.output ?? null);
          record(text);
          stateOutputs.push({ state: state.name, bytes: Buffer.byteLength(text) });
        }
        extra.onEvent?.(event);
      },
    });
    result.taskOutputs.forEach((t) => record(t.output));
    return { ...result, stateOutputs };
  }

  async function keysInTable(): Promise<Record<string, number>> {
    const { rows } = await db.sql.query<{ v: string }>(`SELECT api_key_encrypted AS v FROM ${TABLE}`);
    const counts: Record<string, number> = {};
    for (const r of rows) counts[peekKeyId(r.v)] = (counts[peekKeyId(r.v)] ?? 0) + 1;
    return counts;
  }

  async function keyStatus(id: string): Promise<string> {
    const { rows } = await db.sql.query<{ status: string }>('SELECT status FROM rekey_keys WHERE id = $1', [id]);
    return rows[0]!.status;
  }

  async function jobRow(): Promise<{ status: string; rows_done: string; rows_failed: string }> {
    const { rows } = await db.sql.query<{ status: string; rows_done: string; rows_failed: string }>(
      'SELECT status, rows_done, rows_failed FROM rekey_jobs WHERE NOT dry_run',
    );
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  /** Breaks the authentication of the given rows' envelopes (one base64 character changed inside the ciphertext). */
  async function tamper(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const { rows } = await db.sql.query<{ v: string }>(`SELECT api_key_encrypted AS v FROM ${TABLE} WHERE id = $1`, [
        id,
      ]);
      const v = rows[0]!.v;
      const at = 20; // inside the wrapped data key: rewrap itself does not authenticate the data ciphertext (docs/decisions.md)
      await db.sql.query(`UPDATE ${TABLE} SET api_key_encrypted = $1 WHERE id = $2`, [
        v.slice(0, at) + (v[at] === 'A' ? 'B' : 'A') + v.slice(at + 1),
        id,
      ]);
    }
  }

  it('rotates every row to the primary key and retires the old key; payloads small; history as docs/state-machine.md counts it', async () => {
    // The workers wait for the first CheckProgress, so the progress loop goes round at least once whatever the machine's speed.
    let firstCheck!: () => void;
    const checked = new Promise<void>((resolve) => (firstCheck = resolve));
    let retries = 0;
    const result = await run(
      { mode: 'rewrap', batchSize: 200 },
      {
        wrap: (name, handler) => {
          if (name === 'CheckProgress')
            return async (event, context) => {
              const out = await handler(event, context);
              firstCheck();
              return out;
            };
          if (name === 'Worker') return async (event, context) => (await checked, handler(event, context));
          return handler;
        },
        onEvent: (event) => void (event.type === 'StateRetried' && retries++),
      },
    );
    expect(result.error).toBeUndefined();
    expect(await keysInTable()).toEqual({ 'kek-v2': ROWS });
    expect(await keyStatus('kek-v1')).toBe('retired');
    expect(await keyStatus('kek-v2')).toBe('active');
    expect(await jobRow()).toEqual({ status: 'completed', rows_done: String(ROWS), rows_failed: '0' });
    expect(result.output).toMatchObject({
      job: { rowsToChange: ROWS, batchesTotal: Math.ceil(ROWS / 200) },
      finalize: { retiredKeyIds: ['kek-v1'] },
    });
    expect(result.worker.messages).toBe(Math.ceil(ROWS / 200));
    expect(result.deadLetters).toBe(0);

    // The path taken: the loop between CheckProgress entries is exactly Decision → Wait → Check.
    const h = result.history;
    const polls = h.filter((s) => s === 'WaitForProgress').length;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(h).toEqual([
      'ReadInput',
      'ValidateInput',
      'Plan',
      'IsDryRun',
      'Enqueue',
      'AllBatchesEnqueued',
      'CheckProgress',
      'ProgressDecision',
      ...Array.from({ length: polls }, () => ['WaitForProgress', 'CheckProgress', 'ProgressDecision']).flat(),
      'Verify',
      'CanRetireOldKey',
      'Finalize',
      'Completed',
    ]);

    // docs/state-machine.md's arithmetic (lib/history-budget.ts) against the states this run entered.
    expect(retries).toBe(0);
    const loop = (names: readonly string[]) =>
      historyEvents(names.map((n) => result.states.find((s) => s.name === n)!));
    expect(loop(['Enqueue', 'AllBatchesEnqueued'])).toBe(EVENTS_PER_ENQUEUE);
    expect(loop(['WaitForProgress', 'CheckProgress', 'ProgressDecision'])).toBe(EVENTS_PER_POLL);
    expect(loop(['CheckProgress', 'ProgressDecision'])).toBe(7);
    const total = 2 + historyEvents(result.states);
    expect(total - EVENTS_PER_ENQUEUE - 7 - polls * EVENTS_PER_POLL).toBe(FIXED_EVENTS);

    // The scan (afterEach) covers the handlers' logged events, SQS bodies and the workers' batch logs.
    const all = emitted.join('\n');
    expect(all).toMatch(/"eventSource":\s*"aws:sqs"/);
    expect(all).toMatch(/"executionId":\s*"arn:aws:states:/);
    expect(all).toMatch(/"batchId":\s*"llm_providers#\d+"/);

    // Only ids and counts travel: every state's output stays far below 256 KiB.
    expect(result.stateOutputs.length).toBe(h.length);
    expect(result.stateOutputs.filter((s) => s.bytes >= 4096)).toEqual([]);
  });

  it('dry run ends at the report, sends nothing and changes nothing', async () => {
    const before = await keysInTable();
    const result = await run({ mode: 'rewrap', dryRun: true });
    expect(result.error).toBeUndefined();
    expect(result.history).toEqual(['ReadInput', 'ValidateInput', 'Plan', 'IsDryRun', 'DryRunReport']);
    expect(result.output).toMatchObject({ rowsTotal: ROWS, rowsToChange: ROWS, batchesTotal: 0 }); // the plan's counts
    // The rotation plan `rekey plan --runner local-state-machine` prints: this execution's id names the local
    // runtime, so the plan is timed by its model (one thread, 100 ms waits), with nothing billed on AWS.
    const plan = (result.output as { plan: RotationPlan }).plan;
    expect(plan).toMatchObject({
      planVersion: 1,
      mode: 'rewrap',
      runner: 'local-state-machine',
      targetKeyId: 'kek-v2',
      counted: 'inventory',
    });
    expect(plan.model).toContain('local state-machine runtime');
    expect(plan.total).toMatchObject({ rowsToChange: ROWS, operations: { rewrap: ROWS, failing: 0 }, aws: null });
    expect(plan.duration.runtimeSeconds).toBeGreaterThan(0);
    expect(plan.duration.seconds).toBeGreaterThan(plan.duration.batchPhaseSeconds);
    expect(result.worker.messages).toBe(0);
    expect(await keysInTable()).toEqual(before);
    expect(await keyStatus('kek-v1')).toBe('rotating');
  });

  it('bad input fails at ValidateInput with InvalidInputError and plans nothing', async () => {
    const result = await run({ mode: 'shred', batchSize: -1, tables: ['nope'] });
    expect(result.error?.name).toBe('InvalidInputError');
    expect(result.history).toEqual(['ReadInput', 'ValidateInput', 'MarkFailed', 'JobFailed']);
    const { rows } = await db.sql.query('SELECT id FROM rekey_jobs');
    expect(rows).toEqual([]);
  });

  it("a non-object input and the console's sample input end in MarkFailed with the expected shape, not States.Runtime", async () => {
    for (const input of ['rewrap', { Comment: 'Insert your JSON here' }]) {
      const result = await run(input);
      expect(result.error?.name).toBe('InvalidInputError');
      expect(result.error?.message).toMatch(/expected a JSON object such as \{"mode": "rewrap"\}/);
      expect(result.history).toEqual(['ReadInput', 'ValidateInput', 'MarkFailed', 'JobFailed']);
    }
    const { rows } = await db.sql.query('SELECT id FROM rekey_jobs');
    expect(rows).toEqual([]);
  });

  it('a tampered row ends CompletedWithErrors with the old key kept', async () => {
    await tamper([7]);
    const result = await run({ mode: 'rewrap', batchSize: 500 });
    expect({ error: result.error?.name, last: result.history.slice(-3) }).toEqual({
      error: EXECUTION_ERRORS.completedWithErrors,
      last: ['Verify', 'CanRetireOldKey', 'CompletedWithErrors'],
    });
    expect(await keyStatus('kek-v1')).toBe('rotating');
    expect(await jobRow()).toEqual({ status: 'completed_with_errors', rows_done: String(ROWS - 1), rows_failed: '1' });
    const errors = await db.sql.query<{ row_id: string }>('SELECT row_id FROM rekey_row_errors');
    expect(errors.rows.map((r) => r.row_id)).toEqual(['7']);
    expect(await keysInTable()).toEqual({ 'kek-v2': ROWS - 1, 'kek-v1': 1 });
  });

  it('failed rows past maxErrorRate take the Abort path; the old key stays', async () => {
    await tamper(Array.from({ length: 100 }, (_, i) => 1 + i * 25)); // 4 % of the rows, every batch has some
    const result = await run({ mode: 'rewrap', batchSize: 250, maxErrorRate: 0.01 });
    expect({ error: result.error?.name, last: result.history.slice(-3) }).toEqual({
      error: EXECUTION_ERRORS.jobAborted,
      last: ['ProgressDecision', 'Abort', 'JobAborted'],
    });
    expect(result.history).not.toContain('Verify');
    expect((await jobRow()).status).toBe('aborted');
    expect(await keyStatus('kek-v1')).toBe('rotating');
    expect(await keyStatus('kek-v2')).toBe('active');
  });

  it('a worker that crashes mid-batch has its messages redelivered; the job converges, nothing counted twice', async () => {
    let crashes = 0;
    const result = await run(
      { mode: 'rewrap', batchSize: 250 },
      {
        wrap: (name, handler) =>
          name !== 'Worker'
            ? handler
            : async (event, context) => {
                const records = (event as SQSEvent).Records;
                if (crashes === 0 && records.length > 1) {
                  crashes++;
                  await handler({ Records: records.slice(0, 1) }, context); // the first batch commits...
                  throw new Error('simulated crash'); // ...then the invocation dies before answering for the rest
                }
                return handler(event, context);
              },
      },
    );
    expect(crashes).toBe(1);
    expect(result.error).toBeUndefined();
    expect(result.history.at(-1)).toBe('Completed');
    expect(result.worker.handlerErrors).toBe(1);
    expect(result.worker.messages).toBeGreaterThan(ROWS / 250); // the crashed invocation's messages came again
    expect(result.deadLetters).toBe(0);
    expect(await keysInTable()).toEqual({ 'kek-v2': ROWS });
    expect(await jobRow()).toEqual({ status: 'completed', rows_done: String(ROWS), rows_failed: '0' });
  });
});
