import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createPgSql } from '../../../functions/core/adapters/pg-sql';
import { DatabaseConnectionError } from '../../../functions/core/ports/sql-errors';
import { reapAbandonedClusters } from '../../support/postgres-cluster';
import { runHarnessChild, spawnHarnessChild } from '../../support/run-harness-child';

/** Throwaway clusters do not outlive the process that started them. */
async function answers(url: string): Promise<boolean | unknown> {
  const sql = createPgSql({ connectionString: url, max: 1 });
  try {
    await sql.query('SELECT 1');
    return true;
  } catch (err) {
    if (err instanceof DatabaseConnectionError) return false;
    throw err;
  } finally {
    await sql.close();
  }
}

describe('throwaway cluster clean-up', () => {
  it('a process that exits without calling stop() still stops and removes its cluster', async () => {
    const out = await runHarnessChild<{ url: string; dataDir: string }>('exit-without-stop');
    expect(existsSync(out.dataDir)).toBe(false);
    expect(await answers(out.url)).toBe(false);
  });

  it('a cluster whose process was SIGKILLed (no hook can run) is reaped by the next start', async () => {
    const { child, firstLine } = spawnHarnessChild<{ url: string; dataDir: string; pid: number }>('wait-to-be-killed');
    const out = await firstLine;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(out.dataDir)).toBe(true); // left behind...
    expect(await answers(out.url)).toBe(true); // ...and still running

    const reaped = reapAbandonedClusters();
    expect(reaped).toContain(dirname(out.dataDir));
    expect(existsSync(out.dataDir)).toBe(false);
    expect(await answers(out.url)).toBe(false);
  });

  it('the reaper leaves clusters of live processes alone', async () => {
    const { child, firstLine } = spawnHarnessChild<{ url: string; dataDir: string }>('wait-to-be-killed');
    try {
      const out = await firstLine;
      expect(reapAbandonedClusters()).not.toContain(dirname(out.dataDir));
      expect(await answers(out.url)).toBe(true);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // the child's signal hook stops its cluster
      await exited;
    }
  });
});
