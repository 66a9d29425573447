import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { formatRawKey, RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { runLocalPipeline, type LocalPipelineOptions } from '../../../functions/local/pipeline';
import { synthesizeStateMachineDefinition } from '../../../lib/synthesize-definition';
import { motoEndpoint } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';

/**
 * The synthesized state machine (cdk synth output, not a copy) executed with
 * aws-local-stepfunctions, every Task routed to the real handler, batches
 * through a real SQS queue in moto into the real worker handler, on a real
 * PostgreSQL.
 */
const ROWS = 2500;
const v1 = randomBytes(32);
const v2 = randomBytes(32);
const registry = { tables: [{ name: 'llm_providers', idColumn: 'id', columns: ['api_key_encrypted'] }] };
const definition = synthesizeStateMachineDefinition();

describe('local pipeline: synthesized state machine + handlers + SQS + PostgreSQL', () => {
  let db: TestDatabase;
  let options: LocalPipelineOptions;

  beforeEach(async () => {
    db = await migratedDatabase();
    await db.sql.query('CREATE TABLE llm_providers (id bigint PRIMARY KEY, api_key_encrypted text)');
    const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: v1 }]) });
    const ids: string[] = [];
    const values: string[] = [];
    for (let i = 1; i <= ROWS; i++) {
      ids.push(String(i));
      values.push(await cipher.encrypt(`secret-${i}`, { table: 'llm_providers', column: 'api_key_encrypted', rowId: String(i) }));
    }
    await db.sql.query('INSERT INTO llm_providers SELECT * FROM unnest($1::bigint[], $2::text[])', [ids, values]);
    options = {
      databaseUrl: db.url,
      sqsEndpoint: motoEndpoint(),
      registry,
      definition,
      keyEnv: { SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', v2), SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', v1) },
    };
  });
  afterEach(async () => {
    await db.drop();
  });

  async function keysInTable(): Promise<Record<string, number>> {
    const { rows } = await db.sql.query<{ v: string }>('SELECT api_key_encrypted AS v FROM llm_providers');
    const counts: Record<string, number> = {};
    for (const r of rows) counts[peekKeyId(r.v)] = (counts[peekKeyId(r.v)] ?? 0) + 1;
    return counts;
  }

  it('rotates every row to the primary key, retires the old key, carrying only ids and counts', async () => {
    const run = await runLocalPipeline({ mode: 'rewrap', batchSize: 200 }, options);
    expect(run.error).toBeUndefined();
    expect(run.history).toEqual(expect.arrayContaining(['ValidateInput', 'Plan', 'IsDryRun', 'Enqueue', 'CheckProgress', 'Verify', 'Finalize', 'Completed']));
    expect(await keysInTable()).toEqual({ 'kek-v2': ROWS });
    const { rows } = await db.sql.query<{ id: string; status: string }>('SELECT id, status FROM rekey_keys ORDER BY id');
    expect(rows).toEqual([
      { id: 'kek-v1', status: 'retired' },
      { id: 'kek-v2', status: 'active' },
    ]);
    const job = await db.sql.query<{ status: string; rows_done: string }>('SELECT status, rows_done FROM rekey_jobs WHERE NOT dry_run');
    expect(job.rows[0]).toEqual({ status: 'completed', rows_done: String(ROWS) });
    expect(run.worker.messages).toBeGreaterThanOrEqual(Math.ceil(ROWS / 200));
    for (const { state, output } of run.taskOutputs) {
      const text = JSON.stringify(output);
      expect({ state, size: text.length < 4096 }).toEqual({ state, size: true });
      expect(text).not.toMatch(/secret-\d+/);
      expect(text).not.toContain(v1.toString('base64'));
    }
  });

  it('dry run ends at the report and changes nothing', async () => {
    const before = await keysInTable();
    const run = await runLocalPipeline({ mode: 'rewrap', dryRun: true }, options);
    expect(run.error).toBeUndefined();
    expect(run.history).toContain('DryRunReport');
    expect(run.history).not.toContain('Enqueue');
    expect(await keysInTable()).toEqual(before);
  });

  it('bad input fails at ValidateInput, listing every problem, and marks nothing', async () => {
    const run = await runLocalPipeline({ mode: 'shred', batchSize: -1, tables: ['nope'] }, options);
    expect(run.error).toBeDefined();
    expect(run.history).toEqual(expect.arrayContaining(['ValidateInput', 'MarkFailed', 'JobFailed']));
    expect(run.history).not.toContain('Plan');
  });

  it('a tampered row ends CompletedWithErrors with the old key kept', async () => {
    const { rows } = await db.sql.query<{ v: string }>('SELECT api_key_encrypted AS v FROM llm_providers WHERE id = 7');
    const broken = rows[0]!.v.slice(0, 20) + (rows[0]!.v[20] === 'A' ? 'B' : 'A') + rows[0]!.v.slice(21);
    await db.sql.query('UPDATE llm_providers SET api_key_encrypted = $1 WHERE id = 7', [broken]);
    const run = await runLocalPipeline({ mode: 'rewrap', batchSize: 500 }, options);
    // On failure the diff shows how the execution really ended.
    expect({ last: run.history.slice(-4), error: run.error?.message }).toEqual({ last: expect.arrayContaining(['CompletedWithErrors']), error: expect.any(String) });
    const key = await db.sql.query<{ status: string }>("SELECT status FROM rekey_keys WHERE id = 'kek-v1'");
    expect(key.rows[0]!.status).toBe('rotating');
    const errors = await db.sql.query<{ row_id: string }>('SELECT row_id FROM rekey_row_errors');
    expect(errors.rows.map((r) => r.row_id)).toEqual(['7']);
  });

  it('a worker crash mid-batch is redelivered and the job still converges', async () => {
    let crashed = false;
    const run = await runLocalPipeline(
      { mode: 'rewrap', batchSize: 250 },
      {
        ...options,
        wrap: (name, handler) =>
          name !== 'Worker'
            ? handler
            : async (event, context) => {
                if (!crashed) {
                  crashed = true;
                  throw new Error('simulated worker crash');
                }
                return handler(event, context);
              },
      },
    );
    expect(crashed).toBe(true);
    expect(run.error).toBeUndefined();
    expect(run.history).toContain('Completed');
    expect(await keysInTable()).toEqual({ 'kek-v2': ROWS });
  });
});
