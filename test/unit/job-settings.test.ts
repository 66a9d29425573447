import {
  describeBound,
  describeSettingProblems,
  JOB_BOUNDS,
  JOB_DEFAULTS,
  jobSettingProblems,
  withinBound,
} from '../../functions/core/job-settings';
import { CATALOG_KEYRING_KINDS, KEYRING_KINDS } from '../../functions/core/keyring-kinds';
import { EXECUTION_INPUT_SCHEMA } from '../../functions/core/pipeline/execution-input-schema';
import { JOB_DEFAULTS as LIB_JOB_DEFAULTS } from '../../lib/defaults';

describe('job settings: one definition of every job default and bound', () => {
  it('every default lies within its own bound', () => {
    const checked = Object.entries(JOB_DEFAULTS).filter(([name]) => name in JOB_BOUNDS);
    expect(checked.map(([name]) => name)).toEqual(
      expect.arrayContaining(['batchSize', 'maxErrorRate', 'abortMinRows', 'enqueueBatchesPerInvocation']),
    );
    expect(jobSettingProblems(Object.fromEntries(checked))).toEqual([]);
  });

  it('names every problem at once, in the order given, with the value it got', () => {
    const problems = jobSettingProblems({ maxErrorRate: 1.5, batchSize: 0, abortMinRows: -1, workerBatchSize: 11 });
    expect(describeSettingProblems(problems)).toEqual([
      'maxErrorRate: must be a number from 0 to 1 (0.01 = 1 %), got 1.5',
      'batchSize: must be an integer from 1 to 100000, got 0',
      'abortMinRows: must be a non-negative integer, got -1',
      'workerBatchSize: must be an integer from 1 to 10, got 11',
    ]);
  });

  it('refuses a non-number, a fraction for an integer, NaN and Infinity; skips undefined', () => {
    expect(jobSettingProblems({ batchSize: '2000' }).map((p) => p.problem)).toEqual([
      'must be an integer from 1 to 100000, got "2000"',
    ]);
    expect(jobSettingProblems({ batchSize: 2.5, maxErrorRate: Number.NaN }, String).map((p) => p.problem)).toEqual([
      'must be an integer from 1 to 100000, got 2.5',
      'must be a number from 0 to 1 (0.01 = 1 %), got NaN',
    ]);
    expect(withinBound(Number.POSITIVE_INFINITY, JOB_BOUNDS.abortMinRows)).toBe(false);
    expect(jobSettingProblems({ batchSize: undefined, maxErrorRate: undefined })).toEqual([]);
  });

  it('accepts both ends of every bound and refuses just outside them', () => {
    for (const [name, bound] of Object.entries(JOB_BOUNDS)) {
      expect([name, withinBound(bound.min, bound)]).toEqual([name, true]);
      expect([name, withinBound(bound.min - 1, bound)]).toEqual([name, false]);
      if ('max' in bound) {
        expect([name, withinBound(bound.max, bound)]).toEqual([name, true]);
        expect([name, withinBound(bound.max + 1, bound)]).toEqual([name, false]);
      }
    }
  });

  it('describes a bound with no upper end', () => {
    expect(describeBound({ kind: 'integer', min: 3 })).toBe('an integer of at least 3');
    expect(describeBound({ kind: 'number', min: 0 })).toBe('a non-negative number');
  });

  it('lib/defaults.ts, the execution input schema and the CLI read these same values', () => {
    expect(LIB_JOB_DEFAULTS).toBe(JOB_DEFAULTS);
    const { batchSize, maxErrorRate } = EXECUTION_INPUT_SCHEMA.properties;
    expect([batchSize.default, batchSize.minimum, batchSize.maximum]).toEqual([
      JOB_DEFAULTS.batchSize,
      JOB_BOUNDS.batchSize.min,
      JOB_BOUNDS.batchSize.max,
    ]);
    expect([maxErrorRate.default, maxErrorRate.minimum, maxErrorRate.maximum]).toEqual([
      JOB_DEFAULTS.maxErrorRate,
      JOB_BOUNDS.maxErrorRate.min,
      JOB_BOUNDS.maxErrorRate.max,
    ]);
  });

  it('the catalog holds every keyring kind, and fernet keys besides', () => {
    expect(CATALOG_KEYRING_KINDS).toEqual([...KEYRING_KINDS, 'fernet']);
  });
});
