import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createPgSql } from '../../../functions/core/adapters/pg/sql';
import { DatabaseConnectionError } from '../../../functions/core/ports/sql-errors';
import { reapAbandonedClusters, startThrowawayPostgres } from '../../../functions/local/services/postgres-cluster';
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

  it('a cluster whose initdb or start fails leaves no directory behind and says which step failed', async () => {
    const fakeBin = mkdtempSync(join(tmpdir(), 'rekey-fake-pgbin-'));
    try {
      chmodSync(fakeBin, 0o755);
      const script = (name: string, body: string) => {
        writeFileSync(join(fakeBin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(fakeBin, name), 0o755);
      };
      // This process's cluster directories only: other test files may start clusters meanwhile.
      const ours = () =>
        readdirSync(tmpdir()).filter((n) => {
          if (!n.startsWith('rekey-pg-')) return false;
          try {
            return readFileSync(join(tmpdir(), n, 'owner.pid'), 'utf8') === String(process.pid);
          } catch {
            return false;
          }
        });
      const before = ours();
      script('initdb', 'echo "initdb: simulated failure" >&2; exit 1');
      script('pg_ctl', 'exit 1');
      await expect(startThrowawayPostgres({ binDir: fakeBin })).rejects.toThrow(/^initdb failed/);
      expect(ours()).toEqual(before);

      script('initdb', 'while [ "$1" != "-D" ]; do shift; done; mkdir -p "$2"');
      script('pg_ctl', 'echo "pg_ctl: could not start server" >&2; exit 1');
      await expect(startThrowawayPostgres({ binDir: fakeBin })).rejects.toThrow(
        /^pg_ctl failed: pg_ctl: could not start server/,
      );
      expect(ours()).toEqual(before);
    } finally {
      rmSync(fakeBin, { recursive: true, force: true });
    }
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
