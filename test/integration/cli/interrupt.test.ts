import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { seedCliFixture, type CliFixture } from './fixture';

/**
 * Ctrl-C on `rekey reencrypt --concurrency N` as a real process: the main
 * thread and its worker threads finish the batches in flight and claim no
 * more; `--resume` then finishes the job.
 */
const ROWS = 40_000;

describe('rekey reencrypt interrupted with Ctrl-C', () => {
  let db: TestDatabase;
  let fx: CliFixture;

  beforeAll(async () => {
    requireRealPostgres('--concurrency 3 runs threads on their own connections at once');
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
  });
  afterAll(async () => {
    fx.dispose();
    await db.drop();
  });

  it('stops every thread claiming batches, reports the job interrupted, and --resume completes it', async () => {
    const child = spawn(
      process.execPath,
      [
        require.resolve('tsx/cli'),
        join(__dirname, '../../../bin/rekey.ts'),
        'reencrypt',
        '--concurrency',
        '3',
        '-b',
        '20',
      ],
      {
        cwd: fx.dir,
        env: fx.env,
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => void (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      let sent = false;
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        // Once the threads are claiming (the job row counts their batches), interrupt.
        if (!sent && /Progress: \d+/.test(err)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(err).toContain('Interrupted: finishing the batches in flight');
    expect(out).toMatch(/Job [0-9a-f-]+: running \(interrupted\)/);
    expect(code).toBe(1);
    const jobId = /Job ([0-9a-f-]+):/.exec(out)![1]!;
    const batches = await db.sql.query<{ status: string; n: string }>(
      'SELECT status, count(*)::text AS n FROM rekey_job_batches WHERE job_id = $1::uuid GROUP BY status',
      [jobId],
    );
    const byStatus = Object.fromEntries(batches.rows.map((r) => [r.status, Number(r.n)]));
    // The threads stopped too: most of the 2,000 batches were never claimed, none is left mid-flight.
    expect(byStatus.pending).toBeGreaterThan(1000);
    expect(byStatus.running ?? 0).toBe(0);

    const resumed = await fx.rekey('reencrypt', '--resume', jobId, '--concurrency', '2');
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/completed/);
    expect(resumed.out).toMatch(/rows this run\)/);
    fx.assertNoSecrets(out + err + resumed.out + resumed.err);
  });
});
