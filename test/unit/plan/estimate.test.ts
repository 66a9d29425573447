import { buildPlan } from '../../../functions/core/plan/estimate';
import { kmsQuota } from '../../../functions/core/plan/kms-quotas';
import { operationsFor } from '../../../functions/core/plan/operations';
import { PIPELINE_SHAPE, STATE_TRANSITIONS, progressPolls } from '../../../functions/core/plan/pipeline-shape';
import { DEFAULT_PRICES } from '../../../functions/core/plan/prices';
import { pendingTable, planSettings, throughput } from './support/plan-inputs';

const settings = planSettings;
const table = pendingTable;

describe('buildPlan', () => {
  it('raw keyring: no key service call; duration is the rows at the engine rate plus the scans', () => {
    const plan = buildPlan([table('a', 60_000), table('b', 40_000)], settings());
    expect(plan.total).toMatchObject({
      rowsTotal: 100_000,
      rowsToChange: 100_000,
      batches: 50,
      kmsCalls: 0,
      secretsManagerCalls: 0,
      aws: null,
    });
    expect(plan.total.operations.rewrap).toBe(100_000);
    expect(plan.duration.batchPhaseSeconds).toBeCloseTo(5);
    expect(plan.duration.scanSeconds).toBeCloseTo(1);
    expect(plan.duration.seconds).toBeCloseTo(6);
    expect(plan.cost.usd).toBe(0);
    expect(plan.cost.monthly).toEqual([]);
    expect(plan.recommendations).toEqual([]);
  });

  it('kms keyring: one ReEncrypt per value for rewrap, Decrypt + GenerateDataKey for reencrypt', () => {
    const rewrap = buildPlan([table('a', 10_000)], settings({ keyring: 'kms' }));
    expect(rewrap.total.kmsCalls).toBe(10_000);
    expect(rewrap.tables[0]!.kmsCalls).toBe(10_000);
    const reencrypt = buildPlan([table('a', 10_000, 'reencrypt')], settings({ keyring: 'kms', mode: 'reencrypt' }));
    expect(reencrypt.total.kmsCalls).toBe(20_000);
    expect(reencrypt.cost.lines.find((l) => l.item === 'KMS requests')!.usd).toBeCloseTo(
      20_000 * DEFAULT_PRICES.kmsRequest,
    );
  });

  it('the KMS quota bounds a kms keyring job, and the plan says so and recommends a lower concurrency', () => {
    const plan = buildPlan(
      [table('a', 1_000_000, 'reencrypt')],
      settings({ keyring: 'kms', mode: 'reencrypt', concurrency: 8, kmsQuota: kmsQuota('sa-east-1') }),
    );
    expect(plan.throughput.kmsQuotaPerSecond).toBe(10_000);
    expect(plan.throughput.limitedBy).toBe('kms-quota');
    expect(plan.throughput.effectiveRowsPerSecond).toBeCloseTo(5_000); // 2 calls per row
    expect(plan.duration.batchPhaseSeconds).toBeCloseTo(200);
    const codes = plan.recommendations.map((r) => r.code);
    expect(codes).toEqual(
      expect.arrayContaining(['use-rewrap', 'use-hierarchical', 'lower-concurrency-kms', 'lower-concurrency-database']),
    );
    expect(plan.recommendations.find((r) => r.code === 'lower-concurrency-kms')!.message).toContain('--concurrency 4');
  });

  it('--kms-quota replaces the region default', () => {
    const plan = buildPlan([table('a', 100_000)], settings({ keyring: 'kms', kmsQuota: kmsQuota('us-east-1', 1000) }));
    expect(plan.throughput.kmsQuotaFrom).toBe('--kms-quota');
    expect(plan.duration.batchPhaseSeconds).toBeCloseTo(100);
  });

  it('hierarchical keyring: a GetSecretValue and a Decrypt per KEK per worker load, nothing per row', () => {
    // 3 workers, 20,000 rows/s → 6,000,000 rows in 300 s of batches + 60 s of scans: 2 TTLs of 300 s per worker.
    const plan = buildPlan(
      [table('a', 6_000_000)],
      settings({ keyring: 'hierarchical', concurrency: 3, keysetKeys: 3 }),
    );
    expect(plan.total.keysetLoads).toBe(6);
    expect(plan.total.secretsManagerCalls).toBe(6);
    expect(plan.total.kmsCalls).toBe(18);
    expect(plan.cost.monthly.map((l) => l.item)).toEqual([
      expect.stringContaining('KMS keys'),
      expect.stringContaining('keyset secret'),
    ]);
  });

  it('state machine: transitions from the loop shape, invocations, GB-seconds and the polling delay', () => {
    const rows = 1_000_000;
    const plan = buildPlan(
      [table('a', rows)],
      settings({ runner: 'state-machine', concurrency: 4, throughput: throughput(10_000) }),
    );
    const polls = progressPolls(100);
    expect(polls).toBe(4); // waits of 30 s: 30, 60, 90, 120
    const aws = plan.total.aws!;
    expect(aws.progressPolls).toBe(polls);
    expect(aws.stepFunctionsTransitions).toBe(
      STATE_TRANSITIONS.fixed + STATE_TRANSITIONS.perEnqueue + polls * STATE_TRANSITIONS.perPoll,
    );
    expect(aws.lambdaInvocations).toBe(2 + 1 + (1 + polls) + 2 + Math.ceil(500 / PIPELINE_SHAPE.workerBatchSize));
    expect(aws.lambdaGbSeconds).toBeGreaterThan(100 * 4 * (PIPELINE_SHAPE.workerMemoryMiB / 1024));
    expect(plan.duration.pollingSeconds).toBeGreaterThanOrEqual(20); // noticed at 120 s, done at 100 s
    expect(plan.cost.lines.map((l) => l.item)).toEqual(
      expect.arrayContaining([
        'Lambda requests',
        'Lambda GB-seconds',
        'Step Functions state transitions',
        'SQS requests',
        'Data API requests',
      ]),
    );
    expect(plan.cost.usd).toBeCloseTo(plan.cost.lines.reduce((a, l) => a + l.usd, 0));
  });

  it('recommends a larger batch and names the values the mode cannot move', () => {
    const ops = operationsFor(
      'rewrap',
      { envelopes: { 'kek-v1': 900 }, fernet: 30, jsonKeyId: { 'kek-v1': 20 }, plaintext: 50, plaintextSources: 0 },
      'kek-v2',
    );
    const plan = buildPlan(
      [{ table: 'a', rowsTotal: 1000, rowsPending: 1000, batches: 4, operations: ops }],
      settings({ batchSize: 250 }),
    );
    expect(plan.total.operations).toEqual({ rewrap: 900, reencrypt: 0, encrypt: 0, migrate: 0, failing: 100 });
    expect(plan.recommendations.map((r) => r.code)).toEqual(['larger-batch', 'values-will-fail']);
  });
});

describe('operationsFor', () => {
  const counts = {
    envelopes: { 'kek-v1': 10, 'kek-v2': 5 },
    fernet: 3,
    jsonKeyId: { 'kek-v1': 2 },
    plaintext: 4,
    plaintextSources: 6,
  };
  it.each([
    ['rewrap', { rewrap: 10, reencrypt: 0, encrypt: 0, migrate: 0, failing: 9 }],
    ['reencrypt', { rewrap: 0, reencrypt: 10, encrypt: 0, migrate: 0, failing: 9 }],
    ['encrypt', { rewrap: 10, reencrypt: 0, encrypt: 10, migrate: 0, failing: 5 }],
    ['migrate', { rewrap: 10, reencrypt: 0, encrypt: 0, migrate: 5, failing: 4 }],
  ] as const)('%s mode', (mode, expected) => {
    expect(operationsFor(mode, counts, 'kek-v2')).toEqual(expected);
  });

  // A table rotated in its own format: values of that format off the target are re-encrypted in place, not failing.
  const fernetCounts = {
    envelopes: { 'kek-v1': 1 },
    fernet: 13,
    fernetByKey: { 'fernet:old': 8, 'fernet:new': 3, '(unknown fernet key)': 2 },
    jsonKeyId: { 'kek-v1': 2 },
    plaintext: 4,
    plaintextSources: 0,
  };
  const fernetTable = { format: 'fernet', targetKeyId: 'fernet:new', fernetByKey: fernetCounts.fernetByKey } as const;
  it.each([
    ['rewrap', { rewrap: 0, reencrypt: 8, encrypt: 0, migrate: 0, failing: 2 + 1 + 2 + 4 }],
    ['encrypt', { rewrap: 0, reencrypt: 8, encrypt: 4, migrate: 0, failing: 2 + 1 + 2 }],
  ] as const)('a Fernet table rotated in place, %s mode', (mode, expected) => {
    expect(operationsFor(mode, fernetCounts, 'kek-v2', fernetTable)).toEqual(expected);
  });

  it('a JSON key_id table rotated in place: values off the primary KEK re-encrypted, others of another format failing', () => {
    const json = {
      envelopes: { 'kek-v1': 1 },
      fernet: 2,
      jsonKeyId: { 'kek-v1': 7, 'kek-v2': 3, '(none)': 1 },
      plaintext: 0,
      plaintextSources: 0,
    };
    expect(operationsFor('rewrap', json, 'kek-v2', { format: 'json-key-id', targetKeyId: 'kek-v2' })).toEqual({
      rewrap: 0,
      reencrypt: 7,
      encrypt: 0,
      migrate: 0,
      failing: 1 + 1 + 2,
    });
  });

  it('migrate mode ignores the in-place format: every legacy value migrates', () => {
    expect(operationsFor('migrate', fernetCounts, 'kek-v2', fernetTable)).toEqual({
      rewrap: 1,
      reencrypt: 0,
      encrypt: 0,
      migrate: 15,
      failing: 4,
    });
  });
});
