import { batchStatusCounts, getJob, listJobs, listRowErrors } from '../../core/reencrypt/store/job-store';
import { DEFAULT_MAX_ATTEMPTS } from '../../core/reencrypt/batches/batch-executor';
import { EXIT, type CliIo, type GlobalOptions } from '../io';
import { openSession, printJson } from '../session';

/** `rekey status [JOB]`: the latest jobs, or one job with its batches and row errors (ids, codes, never values). */
export async function statusCommand(globals: GlobalOptions, jobId: string | undefined, io: CliIo): Promise<number> {
  const runtime = await openSession({ ...globals, quiet: true }, io, { needsRegistry: false, syncCatalog: false });
  try {
    if (!jobId) {
      const jobs = await listJobs(runtime.sql, 20);
      if (globals.json) printJson(io, jobs);
      else if (jobs.length === 0) io.stdout('No jobs yet.\n');
      else {
        for (const j of jobs) {
          io.stdout(
            `${j.id}  ${j.status.padEnd(21)} ${j.mode.padEnd(9)} → ${j.targetKeyId.padEnd(10)} ` +
              `${j.counters.rowsDone}/${j.counters.rowsTotal} rows, ${j.counters.rowsFailed} failed  ${j.createdAt.toISOString()}${j.dryRun ? '  (dry run)' : ''}\n`,
          );
        }
      }
      return EXIT.ok;
    }
    const job = await getJob(runtime.sql, jobId);
    const { pending, running, done, failed } = await batchStatusCounts(runtime.sql, job.id, DEFAULT_MAX_ATTEMPTS);
    const batches = { pending, running, done, failed };
    const errors = await listRowErrors(runtime.sql, job.id, 50);
    if (globals.json) {
      printJson(io, { job, batches, rowErrors: errors });
      return EXIT.ok;
    }
    const c = job.counters;
    io.stdout(
      [
        `Job ${job.id}`,
        `  status       ${job.status}${job.error ? ` (${job.error})` : ''}`,
        `  mode         ${job.mode}${job.dryRun ? ' (dry run)' : ''} → ${job.targetKeyId}`,
        `  tables       ${job.tables.join(', ')}`,
        `  rows         ${c.rowsDone} done, ${c.rowsFailed} failed, ${c.rowsSkipped} skipped, ${c.rowsConflicted} conflicted of ${c.rowsTotal}`,
        `  batches      ${c.batchesDone}/${c.batchesTotal} (${JSON.stringify(batches)})`,
        `  requested by ${job.requestedBy} at ${job.createdAt.toISOString()}`,
        ...(job.finishedAt ? [`  finished     ${job.finishedAt.toISOString()}`] : []),
        ...(job.retiredKeyIds.length ? [`  retired      ${job.retiredKeyIds.join(', ')}`] : []),
        ...(errors.length
          ? [
              '  row errors (first 50):',
              ...errors.map((e) => `    ${e.table} id=${e.rowId} ${e.column}: ${e.code} ${e.message}`),
            ]
          : []),
      ].join('\n') + '\n',
    );
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
