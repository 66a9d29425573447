import { formatDryRun } from '../../../../functions/core/reencrypt/batches/planner';
import { RangeCutter, rangesFromBoundaries } from '../../../../functions/core/reencrypt/batches/range-cutter';

/** Which range of `ranges` holds `id` under the given order (the database's ORDER BY). */
function rangeOf(
  ranges: { lo: string | null; hi: string | null }[],
  id: string,
  cmp: (a: string, b: string) => number,
): number {
  return ranges.findIndex((r) => (r.lo === null || cmp(id, r.lo) > 0) && (r.hi === null || cmp(id, r.hi) <= 0));
}

describe('keyset range planning', () => {
  it('cuts pending ids into ranges of batch size; the first starts at the beginning, the last is open', () => {
    const cutter = new RangeCutter(3);
    for (const id of ['1', '2', '3', '4', '5', '6', '7']) cutter.add(id);
    expect(cutter.finish()).toEqual([
      { lo: null, hi: '3', rows: 3 },
      { lo: '3', hi: '6', rows: 3 },
      { lo: '6', hi: null, rows: 1 },
    ]);
  });

  it('opens the last range when the pending count is an exact multiple (rows added later still fall in a batch)', () => {
    const cutter = new RangeCutter(2);
    for (const id of ['10', '20', '30', '40']) cutter.add(id);
    expect(cutter.finish()).toEqual([
      { lo: null, hi: '20', rows: 2 },
      { lo: '20', hi: null, rows: 2 },
    ]);
  });

  it('plans nothing for an empty table, one open range for fewer rows than a batch', () => {
    expect(new RangeCutter(100).finish()).toEqual([]);
    const cutter = new RangeCutter(100);
    cutter.add('only');
    expect(cutter.finish()).toEqual([{ lo: null, hi: null, rows: 1 }]);
    expect(rangesFromBoundaries([], 0, 100)).toEqual([]);
    expect(rangesFromBoundaries([], 42, 100)).toEqual([{ lo: null, hi: null, rows: 42 }]);
  });

  it('builds the same ranges from window-query boundaries as from a walk', () => {
    const ids = Array.from({ length: 23 }, (_, i) => String(i * 7));
    const walk = new RangeCutter(5);
    ids.forEach((id) => walk.add(id));
    const boundaries = ids.filter((_, i) => (i + 1) % 5 === 0);
    expect(rangesFromBoundaries(boundaries, ids.length, 5)).toEqual(walk.finish());
  });

  it('works with uuid and text ids: every id lands in exactly one range, batches hold batch-size rows', () => {
    const uuids = Array.from(
      { length: 50 },
      (_, i) => `${((i * 2654435761) % 4294967296).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
    ).sort();
    const texts = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank', 'grace'];
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    for (const [ids, size] of [
      [uuids, 8],
      [texts, 3],
    ] as const) {
      const cutter = new RangeCutter(size);
      ids.forEach((id) => cutter.add(id));
      const ranges = cutter.finish();
      const counts = new Array(ranges.length).fill(0);
      for (const id of ids) {
        const r = rangeOf(ranges, id, cmp);
        expect(r).toBeGreaterThanOrEqual(0);
        counts[r]++;
      }
      expect(counts).toEqual(ranges.map((r) => r.rows));
      expect(counts.slice(0, -1).every((c) => c === size)).toBe(true);
      expect(rangeOf(ranges, 'zzzz-added-later', cmp)).toBe(ranges.length - 1);
    }
  });

  it('rejects a batch size that is not a positive integer', () => {
    expect(() => new RangeCutter(0)).toThrow(/positive integer/);
    expect(() => new RangeCutter(1.5)).toThrow(/positive integer/);
  });

  it("reports a dry run in the runbook tool's words, per table and in total", () => {
    expect(
      formatDryRun('rewrap', [
        { table: 'llm_providers', rowsTotal: 100, rowsPending: 42 },
        { table: 'users', rowsTotal: 10, rowsPending: 0 },
      ]),
    ).toEqual([
      'DRY RUN: llm_providers: Would re-encrypt 42 of 100 records',
      'DRY RUN: users: Would re-encrypt 0 of 10 records',
      'DRY RUN: Would re-encrypt 42 of 110 records',
    ]);
    expect(formatDryRun('encrypt', [{ table: 't', rowsTotal: 3, rowsPending: 3 }]).at(-1)).toBe(
      'DRY RUN: Would encrypt 3 of 3 records',
    );
  });
});
