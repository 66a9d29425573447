import { PlanInputError } from '../../../functions/core/plan/errors';
import { defaultKmsQuota, kmsQuota } from '../../../functions/core/plan/kms-quotas';
import { DEFAULT_PRICES, pricesWith } from '../../../functions/core/plan/prices';
import {
  DEFAULT_ROWS_PER_SECOND,
  batchSizeFactor,
  chooseThroughput,
  type JobFigures,
} from '../../../functions/core/plan/throughput';

describe('price table', () => {
  it('has a date and a source, and every price is a number', () => {
    expect(DEFAULT_PRICES.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(DEFAULT_PRICES.source).toContain('aws.amazon.com/kms/pricing');
    expect(DEFAULT_PRICES.kmsRequest).toBeCloseTo(0.000003);
  });

  it('an override replaces the fields it names and says whose prices they are', () => {
    const p = pricesWith({ kmsRequest: 0.00001 }, 'prices.json');
    expect(p.kmsRequest).toBe(0.00001);
    expect(p.lambdaRequest).toBe(DEFAULT_PRICES.lambdaRequest);
    expect(p.source).toContain('prices.json');
  });

  it('a bad override names every problem and the file', () => {
    expect(() => pricesWith({ kmsRequest: -1, lambdaRequest: '0.2', typo: 1 }, 'prices.json')).toThrow(PlanInputError);
    try {
      pricesWith({ kmsRequest: -1, lambdaRequest: '0.2', typo: 1 }, 'prices.json');
    } catch (err) {
      expect((err as Error).message).toMatch(/^prices\.json: 3 problems/);
      expect((err as Error).message).toContain('kmsRequest: expected a price in USD ≥ 0, got -1');
      expect((err as Error).message).toContain('typo: unknown field');
    }
    expect(() => pricesWith([1], 'p.json')).toThrow(/an array/);
  });
});

describe('KMS quota', () => {
  it('has per-region defaults and a flag that replaces them', () => {
    expect(defaultKmsQuota('us-east-1')).toBe(100_000);
    expect(defaultKmsQuota('eu-central-1')).toBe(20_000);
    expect(defaultKmsQuota('af-south-1')).toBe(10_000);
    expect(kmsQuota('us-east-1', 5000)).toEqual({ perSecond: 5000, region: 'us-east-1', from: '--kms-quota' });
    expect(() => kmsQuota('us-east-1', 0)).toThrow(/--kms-quota/);
  });
});

describe('chooseThroughput', () => {
  const job = (over: Partial<JobFigures>): JobFigures => ({
    jobId: 'j',
    runner: 'cli',
    mode: 'rewrap',
    keyring: 'raw',
    concurrency: 1,
    batchSize: 2000,
    rowsDone: 10_000,
    rowsScanned: 10_000,
    batchSeconds: 1,
    jobSeconds: 1.5,
    finishedAt: new Date('2026-12-01T00:00:00Z'),
    ...over,
  });
  const request = { runner: 'cli', mode: 'rewrap', keyring: 'raw', concurrency: 1, batchSize: 2000 } as const;

  it('with no history: the documented default, and says so', () => {
    const t = chooseThroughput(request, []);
    expect(t.source).toBe('default');
    expect(t.rowsPerSecond).toBe(DEFAULT_ROWS_PER_SECOND.rewrap);
    expect(t.basis).toContain('no finished rewrap job');
  });

  it('learns: the median of the last jobs of the same mode, keyring and runner', () => {
    const history = [
      job({ jobId: 'a', batchSeconds: 1, finishedAt: new Date('2026-12-03') }), // 10,000 rows/s
      job({ jobId: 'b', batchSeconds: 2, finishedAt: new Date('2026-12-02') }), // 5,000
      job({ jobId: 'c', batchSeconds: 0.5, finishedAt: new Date('2026-12-01') }), // 20,000
      job({ jobId: 'd', keyring: 'kms', batchSeconds: 100 }),
      job({ jobId: 'e', mode: 'reencrypt', batchSeconds: 100 }),
      job({ jobId: 'f', runner: 'state-machine', batchSeconds: 100 }),
      job({ jobId: 'g', rowsDone: 10, batchSeconds: 100 }), // too small to teach anything
    ];
    const t = chooseThroughput(request, history);
    expect(t.source).toBe('history');
    expect(t.rowsPerSecond).toBe(10_000);
    expect(t.jobIds).toEqual(['a', 'b', 'c']);
    // a: 10,000 rows scanned in 0.5 s besides its batches, c: in 1 s; b ran no longer than its batches (no figure)
    expect(t.scanRowsPerSecond).toBe(15_000);
  });

  it('scales a job measured at another batch size', () => {
    const t = chooseThroughput({ ...request, batchSize: 5000 }, [job({ batchSize: 2000 })]);
    expect(t.rowsPerSecond).toBeCloseTo(10_000 * batchSizeFactor(5000));
    expect(t.basis).toContain('scaled');
  });
});

describe('speed probe', () => {
  it('measures rewraps per second here and compares them with the reference machine', async () => {
    const { probeSpeed, REFERENCE_REWRAPS_PER_SECOND } = await import('../../../functions/core/plan/speed-probe');
    const speed = await probeSpeed(50);
    expect(speed.rewrapsPerSecond).toBeGreaterThan(0);
    expect(speed.factor).toBeCloseTo(
      Math.min(2, Math.max(0.02, speed.rewrapsPerSecond / REFERENCE_REWRAPS_PER_SECOND)),
    );
  });
});
