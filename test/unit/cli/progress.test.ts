import { progressReporter } from '../../../functions/cli/progress';
import type { CliIo } from '../../../functions/cli/io';

function io(isTTY: boolean): CliIo & { text: () => string } {
  let err = '';
  return { stdout: () => undefined, stderr: (t) => void (err += t), isTTY, env: {}, cwd: '/', text: () => err };
}

const update = (attempted: number, total = 3500) => ({
  jobId: 'j',
  rowsTotal: total,
  rowsDone: attempted,
  rowsFailed: 0,
  rowsSkipped: 0,
  rowsConflicted: 0,
  batchesDone: Math.ceil(attempted / 500),
  batchesTotal: 7,
  elapsedMs: 1000,
  rowsPerSecond: attempted,
});

describe('progress reporter', () => {
  it('writes a line every 1,000 records when stderr is not a terminal, and one at the end', () => {
    const out = io(false);
    const p = progressReporter(out, false);
    for (const n of [500, 1000, 1500, 2000, 2500, 3000, 3500]) p.update(update(n));
    p.done();
    expect(out.text().trim().split('\n')).toEqual([
      'Progress: 1000/3500 records processed (1000 rows/s, 0 failed)',
      'Progress: 2000/3500 records processed (2000 rows/s, 0 failed)',
      'Progress: 3000/3500 records processed (3000 rows/s, 0 failed)',
      'Progress: 3500/3500 records processed (3500 rows/s, 0 failed)',
    ]);
  });

  it('never passes 100 %: rows already on the target key in the batch ranges are skipped on top of the plan total', () => {
    const out = io(false);
    const p = progressReporter(out, false);
    for (const n of [1000, 3500]) p.update(update(n));
    p.update({ ...update(3500), rowsSkipped: 900 });
    p.update({ ...update(3500), rowsSkipped: 1900 });
    p.done();
    expect(out.text().trim().split('\n')).toEqual([
      'Progress: 1000/3500 records processed (1000 rows/s, 0 failed)',
      'Progress: 3500/3500 records processed (3500 rows/s, 0 failed)',
    ]);
    const bar = io(true);
    progressReporter(bar, false).update({ ...update(3500), rowsSkipped: 1200 });
    expect(bar.text()).toMatch(/100\.0%\s+3500\/3500 rows/);
  });

  it('redraws one bar on a terminal and ends the line when done', () => {
    const out = io(true);
    const p = progressReporter(out, false);
    p.update(update(1750));
    p.done();
    expect(out.text()).toMatch(/^\r\[#{15}\.{15}\]\s+50\.0%\s+1750\/3500 rows/);
    expect(out.text().endsWith('\n')).toBe(true);
  });

  it('says nothing when quiet', () => {
    const out = io(false);
    const p = progressReporter(out, true);
    p.update(update(3500));
    p.done();
    expect(out.text()).toBe('');
  });
});
