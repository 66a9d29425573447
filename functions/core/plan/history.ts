import type { KeyringKind } from '../crypto/keyring';
import type { Sql } from '../ports/sql';
import type { Mode } from '../reencrypt/values/modes';
import type { JobFigures } from './throughput';

/**
 * The planner's calibration, read from the job history rekey keeps anyway:
 * rekey_jobs (mode, batch size, options.concurrency, rows done, started and
 * finished), the first claim and last finish of its batches, and the target
 * key's keyring in rekey_keys. No table of its own: every finished job is a
 * measurement, so the plan learns from the last runs on this database.
 * A job without `options.concurrency` (the state machine's) ran with the
 * pipeline's worker concurrency, passed in.
 */
export async function recentJobFigures(
  sql: Sql,
  mode: Mode,
  options: { readonly limit?: number; readonly pipelineConcurrency: number },
): Promise<JobFigures[]> {
  const { rows } = await sql.query<{
    id: string;
    cli: boolean;
    keyring: KeyringKind | null;
    options: Record<string, unknown> | string | null;
    plan: { rowsTotal?: number }[] | string | null;
    batch_size: number | string;
    rows_done: number | string;
    job_seconds: number | string | null;
    batch_seconds: number | string | null;
    finished_at: Date | string;
  }>(
    `SELECT j.id, j.execution_id IS NULL AS cli, k.keyring, j.options, j.plan, j.batch_size, j.rows_done, j.finished_at,
            EXTRACT(EPOCH FROM (j.finished_at - j.started_at)) AS job_seconds,
            (SELECT EXTRACT(EPOCH FROM (max(b.finished_at) - min(b.started_at))) FROM rekey_job_batches b WHERE b.job_id = j.id) AS batch_seconds
       FROM rekey_jobs j LEFT JOIN rekey_keys k ON k.id = j.target_key_id
      WHERE j.status IN ('completed', 'completed_with_errors') AND NOT j.dry_run AND j.mode = $1
        AND j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
      ORDER BY j.finished_at DESC LIMIT $2`,
    [mode, options.limit ?? 20],
  );
  return rows.map((r) => {
    const opts = (typeof r.options === 'string' ? JSON.parse(r.options) : (r.options ?? {})) as Record<string, unknown>;
    const plan = (typeof r.plan === 'string' ? JSON.parse(r.plan) : (r.plan ?? [])) as { rowsTotal?: number }[];
    const concurrency =
      typeof opts.concurrency === 'number' && opts.concurrency >= 1
        ? opts.concurrency
        : r.cli
          ? 1
          : options.pipelineConcurrency;
    return {
      jobId: r.id,
      runner: r.cli ? 'cli' : 'state-machine',
      mode,
      keyring: r.keyring,
      concurrency,
      batchSize: Number(r.batch_size),
      rowsDone: Number(r.rows_done),
      rowsScanned: plan.reduce((a, t) => a + (Number(t.rowsTotal) || 0), 0),
      batchSeconds: Number(r.batch_seconds ?? 0),
      jobSeconds: Number(r.job_seconds ?? 0),
      finishedAt: r.finished_at instanceof Date ? r.finished_at : new Date(r.finished_at),
    };
  });
}
