import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRawKey } from '../../../functions/core/crypto/keyrings/raw';
import type { RotationPlan } from '../../../functions/core/plan/estimate';
import { DEFAULT_ROWS_PER_SECOND } from '../../../functions/core/plan/throughput';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { seedCliFixture, TABLE, type CliFixture } from '../cli/fixture';

/**
 * `rekey plan` on a real PostgreSQL: the plan of a dry-run job (nothing
 * changes), the same plan from `reencrypt -n`, and a plan that learns from
 * the job that ran before it (its rows/s are that job's, read back from the
 * job history). The prediction-versus-measurement figures are bench/plan.bench.ts's.
 */
const ROWS = 6000;

describe('rekey plan', () => {
  let db: TestDatabase;
  let fx: CliFixture;

  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  const planJson = async (...args: string[]): Promise<RotationPlan> => {
    const { code, out, err } = await fx.rekey('--json', 'plan', ...args);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    return JSON.parse(out) as RotationPlan;
  };

  it('plans without changing the table or the catalog, and says its throughput is a default', async () => {
    const before = await fx.tableDigest();
    const keys = await db.sql.query('SELECT id, status FROM rekey_keys ORDER BY id');
    const plan = await planJson('-b', '1000');
    expect(plan.total).toMatchObject({
      rowsTotal: ROWS,
      rowsToChange: ROWS,
      batches: ROWS / 1000,
      kmsCalls: 0,
      secretsManagerCalls: 0,
      aws: null,
    });
    expect(plan.total.operations).toEqual({ rewrap: ROWS, reencrypt: 0, encrypt: 0, migrate: 0, failing: 0 });
    expect(plan.tables.map((t) => t.table)).toEqual([TABLE]);
    expect(plan).toMatchObject({
      mode: 'rewrap',
      keyring: 'raw',
      targetKeyId: 'kek-v2',
      runner: 'cli',
      counted: 'inventory',
    });
    expect(plan.throughput.source).toBe('default');
    expect(plan.throughput.basis).toContain('no finished rewrap job');
    expect(plan.duration.seconds).toBeGreaterThan(0);
    expect(plan.cost.prices.date).toMatch(/^\d{4}-/);
    expect(await fx.tableDigest()).toBe(before);
    expect((await db.sql.query('SELECT id, status FROM rekey_keys ORDER BY id')).rows).toEqual(keys.rows);
  });

  it('reencrypt -n prints the dry-run lines and the same plan', async () => {
    const plan = await planJson();
    const text = await fx.rekey('reencrypt', '-n');
    expect(text.code).toBe(0);
    expect(text.out).toContain(`DRY RUN: Would re-encrypt ${ROWS} of ${ROWS} records`);
    expect(text.out).toContain('PLAN: rewrap to kek-v2 — raw keyring, CLI job runner, batch 2,000, concurrency 1');
    expect(text.out).toMatch(new RegExp(`TOTAL\\s+${ROWS.toLocaleString('en-US')}\\s+${ROWS.toLocaleString('en-US')}`));
    expect(text.out).toContain('Predicted duration:');
    const json = await fx.rekey('--json', 'reencrypt', '-n');
    const dry = JSON.parse(json.out) as { rotationPlan: RotationPlan };
    expect(dry.rotationPlan.total).toEqual(plan.total);
    // Both from the defaults scaled by a speed probe of this machine, each run its own probe.
    expect([dry.rotationPlan.throughput.source, plan.throughput.source]).toEqual(['default', 'default']);
    expect(dry.rotationPlan.throughput.basis).toContain("scaled by this machine's speed now");
  });

  it('learns from the last job: the next plan uses its measured rows/s', async () => {
    const run = await fx.rekey('reencrypt', '--concurrency', '1');
    expect(run.code).toBe(0);
    const { rows } = await db.sql.query<{ id: string; rows_done: string; secs: number }>(
      `SELECT j.id, j.rows_done, EXTRACT(EPOCH FROM (max(b.finished_at) - min(b.started_at)))::float8 AS secs
         FROM rekey_jobs j JOIN rekey_job_batches b ON b.job_id = j.id WHERE NOT j.dry_run GROUP BY j.id`,
    );
    expect(rows).toHaveLength(1);
    const measured = Number(rows[0]!.rows_done) / rows[0]!.secs;
    // The next rotation, to kek-v3.
    fx.env.SECRETS_ENCRYPTION_KEY = formatRawKey('kek-v3', fx.keys.v3);
    fx.env.SECRETS_ENCRYPTION_KEY_PREVIOUS = `${formatRawKey('kek-v2', fx.keys.v2)},${formatRawKey('kek-v1', fx.keys.v1)}`;
    const plan = await planJson();
    expect(plan.targetKeyId).toBe('kek-v3');
    expect(plan.throughput.source).toBe('history');
    expect(plan.throughput.jobIds).toEqual([rows[0]!.id]);
    expect(plan.throughput.rowsPerSecond).toBeCloseTo(measured, 3);
    expect(plan.throughput.rowsPerSecond).not.toBe(DEFAULT_ROWS_PER_SECOND.rewrap);
    // Another mode has no history yet: the default again, said so.
    const reencrypt = await planJson('--mode', 'reencrypt');
    expect(reencrypt.throughput.source).toBe('default');
    expect(reencrypt.recommendations.map((r) => r.code)).toContain('use-rewrap');
  });

  it('takes the KMS quota, the runner and a price table from the command line', async () => {
    writeFileSync(
      join(fx.dir, 'prices.json'),
      JSON.stringify({ kmsRequest: 0.001, date: '2027-01-01', source: 'our negotiated rates' }),
    );
    const plan = await planJson(
      '--runner',
      'state-machine',
      '--kms-quota',
      '500',
      '--prices',
      'prices.json',
      '--region',
      'eu-west-3',
    );
    expect(plan.runner).toBe('state-machine');
    expect(plan.concurrency).toBe(4);
    expect(plan.throughput.kmsQuotaPerSecond).toBe(500);
    expect(plan.cost.prices).toEqual({ date: '2027-01-01', source: 'our negotiated rates', region: 'us-east-1' });
    expect(plan.total.aws!.stepFunctionsTransitions).toBeGreaterThanOrEqual(9);
    expect(plan.total.aws!.lambdaInvocations).toBeGreaterThan(Math.ceil(ROWS / 2000 / 5));
  });

  it('--runner local-state-machine: the model of the local runtime, its pollers, nothing billed', async () => {
    const plan = await planJson('--runner', 'local-state-machine');
    expect(plan).toMatchObject({ runner: 'local-state-machine', concurrency: 2 });
    expect(plan.model).toContain('local state-machine runtime');
    expect(plan.total.aws).toBeNull();
    expect(plan.duration.runtimeSeconds).toBeGreaterThan(0);
    expect(plan.throughput.basis).toContain('one JavaScript thread');
    const text = await fx.rekey('plan', '--runner', 'local-state-machine');
    expect(text.out).toContain('state machine, local runtime');
    expect(text.out).toContain('time model: local state-machine runtime');
  });

  it('refuses a bad price table or quota with the reason and a non-zero exit', async () => {
    writeFileSync(join(fx.dir, 'bad.json'), JSON.stringify({ kmsRequest: 'cheap', typo: 1 }));
    const bad = await fx.rekey('plan', '--prices', 'bad.json');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--prices bad.json: 2 problems');
    expect(bad.err).toContain('typo: unknown field');
    const missing = await fx.rekey('plan', '--prices', 'nope.json');
    expect([missing.code, missing.err]).toEqual([
      2,
      expect.stringContaining('--prices nope.json: cannot read it (ENOENT)'),
    ]);
    const quota = await fx.rekey('plan', '--kms-quota', '0');
    expect(quota.code).toBe(2);
  });
});
