import { describeErrorRate, errorRateExceeded } from '../../../../functions/core/reencrypt/jobs/error-rate';

const counters = (done: number, failed: number, total: number, conflicted = 0) => ({
  rowsDone: done,
  rowsFailed: failed,
  rowsConflicted: conflicted,
  rowsTotal: total,
});

describe('maximum error rate', () => {
  it('waits for the minimum sample while running, then compares failed with attempted rows', () => {
    expect(errorRateExceeded(counters(95, 5, 1_000_000), 0.01, 1000)).toBe(false); // 5 % of 100 rows: too early to judge
    expect(errorRateExceeded(counters(980, 20, 1_000_000), 0.01, 1000)).toBe(true); // 2 % of 1,000
    expect(errorRateExceeded(counters(995, 5, 1_000_000), 0.01, 1000)).toBe(false); // 0.5 %
    expect(errorRateExceeded(counters(990, 10, 1_000_000), 0.01, 1000)).toBe(false); // exactly 1 % is not above it
  });

  it('judges small jobs once every row was attempted, and every job at the end', () => {
    expect(errorRateExceeded(counters(40, 2, 100), 0.01, 1000)).toBe(false);
    expect(errorRateExceeded(counters(98, 2, 100), 0.01, 1000)).toBe(true);
    expect(errorRateExceeded(counters(40, 2, 100), 0.01, 1000, true)).toBe(true);
    expect(errorRateExceeded(counters(0, 0, 0), 0.01, 1000, true)).toBe(false);
    expect(errorRateExceeded(counters(50, 1, 100), 0, 0)).toBe(true); // max rate 0: any failure aborts
  });

  it('explains itself with counts only', () => {
    expect(describeErrorRate(counters(980, 20, 0), 0.01)).toBe(
      '20 of 1000 rows failed (2 %), above the maximum error rate of 1 %',
    );
  });
});
