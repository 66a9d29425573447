/**
 * What the demo measures of each job — rows, rows/s, row errors, KMS calls,
 * wall time, retired keys — and the one table it ends with, plan beside run.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { formatSeconds, type RotationPlan } from '../../functions/core/plan';
import type { SqlPool } from '../../functions/core/ports/sql';
import type { DemoJob } from './seed';

export interface JobOutcome {
  readonly job: DemoJob;
  readonly plan: RotationPlan;
  readonly jobId: string;
  readonly status: string;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  /** The job as its row records it (started_at → finished_at). */
  readonly batchSeconds: number;
  /** The whole run as the operator waits for it: the execution (or `rekey reencrypt`) start to end, what the plan predicts. */
  readonly wallSeconds: number;
  readonly kmsCalls: number;
  readonly retired: readonly string[];
}

let kmsSends = 0;

/**
 * Counts every KMS request this process sends (the handlers run in it), at
 * KMSClient.send: the demo's KMS column is measured, not assumed. With the
 * raw keyring it stays 0.
 */
export function countKmsCalls(): () => number {
  const send = KMSClient.prototype.send;
  const counted = function (this: KMSClient, ...args: Parameters<KMSClient['send']>) {
    kmsSends++;
    return send.apply(this, args);
  } as KMSClient['send'];
  KMSClient.prototype.send = counted;
  return () => kmsSends;
}

/** The newest real (not dry-run) job: the one the demo just ran. */
export async function lastJob(sql: SqlPool): Promise<{
  id: string;
  status: string;
  rowsDone: number;
  rowsFailed: number;
  batchSeconds: number;
  retired: string[];
}> {
  const { rows } = await sql.query<{
    id: string;
    status: string;
    rows_done: string;
    rows_failed: string;
    started_at: Date | null;
    finished_at: Date | null;
    retired_key_ids: string[];
  }>(
    'SELECT id, status, rows_done, rows_failed, started_at, finished_at, retired_key_ids FROM rekey_jobs WHERE NOT dry_run ORDER BY created_at DESC LIMIT 1',
  );
  const job = rows[0];
  if (!job) throw new Error('the demo found no job after running one');
  const seconds =
    job.started_at && job.finished_at ? (job.finished_at.getTime() - job.started_at.getTime()) / 1000 : NaN;
  return {
    id: job.id,
    status: job.status,
    rowsDone: Number(job.rows_done),
    rowsFailed: Number(job.rows_failed),
    batchSeconds: seconds,
    retired: job.retired_key_ids,
  };
}

/** Predicted ÷ measured, as `0.71×`: within 2× when between 0.50× and 2.00×. */
export function ratio(predicted: number, measured: number): string {
  return Number.isFinite(predicted) && Number.isFinite(measured) && measured > 0
    ? `${(predicted / measured).toFixed(2)}×`
    : '-';
}

/**
 * The final table: one line per job, the plan's prediction beside the
 * measurement and their ratio. "job" compares the plan's batch phase +
 * planning/verify scans with the job row (started → finished); "total"
 * compares the plan's whole duration (with the runtime's own time: set-up,
 * task states, progress polling) with the wall clock of the run.
 */
export function formatOutcomes(outcomes: readonly JobOutcome[]): string[] {
  const s = (x: number): string => (Number.isFinite(x) ? formatSeconds(x) : '-');
  const jobPlan = (o: JobOutcome): number => o.plan.duration.batchPhaseSeconds + o.plan.duration.scanSeconds;
  const rows: string[][] = [
    [
      'job',
      'mode',
      'status',
      'rows',
      'rows/s',
      'row errors',
      'KMS calls plan/run',
      'job s plan/run',
      'ratio',
      'total s plan/run',
      'ratio',
      'retired',
    ],
    ...outcomes.map((o) => [
      o.job.label,
      o.job.mode,
      o.status,
      o.rowsDone.toLocaleString('en-US'),
      Number.isFinite(o.batchSeconds)
        ? Math.round(o.rowsDone / Math.max(o.batchSeconds, 0.001)).toLocaleString('en-US')
        : '-',
      String(o.rowsFailed),
      `${o.plan.total.kmsCalls} / ${o.kmsCalls}`,
      `${s(jobPlan(o))} / ${s(o.batchSeconds)}`,
      ratio(jobPlan(o), o.batchSeconds),
      `${s(o.plan.duration.seconds)} / ${s(o.wallSeconds)}`,
      ratio(o.plan.duration.seconds, o.wallSeconds),
      o.retired.join(', ') || 'none',
    ]),
  ];
  const last = rows[0]!.length - 1;
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i < 3 || i === last ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), ...rows.slice(1).map(line)];
}
