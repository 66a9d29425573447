import type { JobProgress } from '../core/reencrypt/jobs/job-runner';
import type { CliIo } from './io';

/**
 * Progress of a running job: a redrawn bar on a terminal, otherwise a line
 * every 1,000 records (the runbook tool's cadence) so logs stay readable.
 */
export function progressReporter(io: CliIo, quiet: boolean): { update(p: JobProgress): void; done(): void } {
  let lastLine = 0;
  let drawn = false;
  let ended = false;
  return {
    update(p) {
      if (quiet) return;
      // Batches are keyset ranges, so they also pass rows that were already on
      // the target key (skipped) beside the rows the plan counted: clamp to the
      // plan's total rather than show 130 %.
      const attempted = Math.min(p.rowsDone + p.rowsFailed + p.rowsSkipped + p.rowsConflicted, p.rowsTotal);
      if (io.isTTY) {
        const width = 30;
        const fraction = p.rowsTotal > 0 ? Math.min(1, attempted / p.rowsTotal) : 1;
        const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
        io.stderr(
          `\r[${bar}] ${(fraction * 100).toFixed(1).padStart(5)}%  ${attempted}/${p.rowsTotal} rows  ` +
            `${Math.round(p.rowsPerSecond)} rows/s  failed ${p.rowsFailed}  batches ${p.batchesDone}/${p.batchesTotal}`,
        );
        drawn = true;
      } else if (attempted - lastLine >= 1000 || (attempted === p.rowsTotal && !ended)) {
        ended = attempted === p.rowsTotal;
        lastLine = attempted - (attempted % 1000);
        io.stderr(
          `Progress: ${attempted}/${p.rowsTotal} records processed (${Math.round(p.rowsPerSecond)} rows/s, ${p.rowsFailed} failed)\n`,
        );
      }
    },
    done() {
      if (drawn) io.stderr('\n');
    },
  };
}
