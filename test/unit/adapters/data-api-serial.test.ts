import { serialQueue } from '../../../functions/core/adapters/data-api/serial';

describe('serialQueue (one Data API call at a time per transaction)', () => {
  it('runs tasks one after another in the order given, and goes on after a task that failed', async () => {
    const serial = serialQueue();
    const log: string[] = [];
    let running = 0;
    const task =
      (name: string, fail = false) =>
      async (): Promise<string> => {
        running++;
        log.push(`start ${name} (${running} running)`);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        log.push(`end ${name}`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = await Promise.allSettled([serial(task('a')), serial(task('b', true)), serial(task('c'))]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a',
      'b failed',
      'c',
    ]);
    expect(log).toEqual([
      'start a (1 running)',
      'end a',
      'start b (1 running)',
      'end b',
      'start c (1 running)',
      'end c',
    ]);
  });
});
