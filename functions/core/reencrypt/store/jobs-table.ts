import type { Sql } from '../../ports/sql';
import type { RowScope } from '../batches/row-scope';
import { JobNotFoundError, JobStateError } from '../errors';
import type { JobStatus } from '../jobs/job-status';
import type { Mode } from '../values/modes';
import type { BatchCounts } from './batch-leases';
import { date, num, parseOptions, targetAndScopeFromOptions, type Row } from './row-values';

/**
 * Reads and writes `rekey_jobs` (migration 0002). Every status change is
 * conditional on the status it expects, so two processes racing on one job
 * cannot both win.
 */

export interface JobCounters {
  readonly rowsTotal: number;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly rowsSkipped: number;
  readonly rowsConflicted: number;
  readonly batchesTotal: number;
  readonly batchesDone: number;
}

/** Per-table result of planning: counts only. */
export interface TablePlanSummary {
  readonly table: string;
  readonly rowsTotal: number;
  readonly rowsPending: number;
  readonly batches: number;
}

export interface JobRecord {
  readonly id: string;
  /** The state-machine execution (or other caller key) the job was created for; null when none. */
  readonly executionId: string | null;
  readonly mode: Mode;
  readonly status: JobStatus;
  readonly dryRun: boolean;
  /** Table keys (`schema.name` or `name`) the job covers. */
  readonly tables: readonly string[];
  readonly targetKeyId: string;
  /** The primary Fernet key the job's Fernet tables end under (formats.ts; kept in the job's options), when it has one. */
  readonly fernetTargetKeyId?: string;
  /** The rows the job may touch, by tenant (row-scope.ts; kept in the job's options). */
  readonly scope: RowScope;
  /** Keys found under the rows at planning time (besides the target). */
  readonly sourceKeyIds: readonly string[];
  /** Values per key id over every known table, as the job's Verify counted them (Finalize retires on these). */
  readonly verifiedKeys: Readonly<Record<string, number>> | null;
  /** The oldest transaction still running when Verify began (32-bit xid, as text): rows with a newer xmin were written since (late-writes.ts). */
  readonly verifiedSinceXid: string | null;
  /** Keys this job retired after its verify. */
  readonly retiredKeyIds: readonly string[];
  readonly batchSize: number;
  readonly maxErrorRate: number;
  readonly abortMinRows: number;
  readonly plan: readonly TablePlanSummary[] | null;
  readonly counters: JobCounters;
  readonly requestedBy: string;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly error: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isJobId(value: string): boolean {
  return UUID.test(value);
}

export function jobFromRow(r: Row): JobRecord {
  return {
    id: String(r['id']),
    executionId: (r['execution_id'] as string | null) ?? null,
    mode: r['mode'] as Mode,
    status: r['status'] as JobStatus,
    dryRun: Boolean(r['dry_run']),
    tables: (r['tables'] as string[] | null) ?? [],
    targetKeyId: String(r['target_key_id']),
    ...targetAndScopeFromOptions(r['options']),
    sourceKeyIds: (r['source_key_ids'] as string[] | null) ?? [],
    retiredKeyIds: (r['retired_key_ids'] as string[] | null) ?? [],
    ...verifiedFromColumn(parseOptions(r['verified_keys']) as Record<string, number | string> | null),
    batchSize: num(r['batch_size']),
    maxErrorRate: num(r['max_error_rate']),
    abortMinRows: num(r['abort_min_rows']),
    plan: (r['plan'] as TablePlanSummary[] | null) ?? null,
    counters: {
      rowsTotal: num(r['rows_total']),
      rowsDone: num(r['rows_done']),
      rowsFailed: num(r['rows_failed']),
      rowsSkipped: num(r['rows_skipped']),
      rowsConflicted: num(r['rows_conflicted']),
      batchesTotal: num(r['batches_total']),
      batchesDone: num(r['batches_done']),
    },
    requestedBy: String(r['requested_by']),
    createdAt: date(r['created_at']) ?? new Date(0),
    startedAt: date(r['started_at']),
    finishedAt: date(r['finished_at']),
    heartbeatAt: date(r['heartbeat_at']),
    error: (r['error'] as string | null) ?? null,
  };
}

export interface NewJob {
  readonly mode: Mode;
  readonly dryRun: boolean;
  readonly tables: readonly string[];
  readonly targetKeyId: string;
  readonly batchSize: number;
  readonly maxErrorRate: number;
  readonly abortMinRows: number;
  readonly requestedBy: string;
  /** Idempotency key: a second insert with the same one returns the first job. */
  readonly executionId?: string | undefined;
  /** Ids and counts only (concurrency, passes, ...): never a value. */
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

/** Inserts a job; with an executionId already used, returns that job instead (`created` false). */
export async function insertJob(sql: Sql, job: NewJob): Promise<{ job: JobRecord; created: boolean }> {
  const { rows } = await sql.query<Row>(
    `INSERT INTO rekey_jobs (mode, dry_run, tables, target_key_id, batch_size, max_error_rate, abort_min_rows, requested_by, options, execution_id)
     VALUES ($1, $2, $3::text[], $4, $5, $6, $7, $8, $9::jsonb, $10)
     ON CONFLICT (execution_id) DO NOTHING RETURNING *`,
    [
      job.mode,
      job.dryRun,
      [...job.tables],
      job.targetKeyId,
      job.batchSize,
      job.maxErrorRate,
      job.abortMinRows,
      job.requestedBy,
      { ...job.options },
      job.executionId ?? null,
    ],
  );
  if (rows[0]) return { job: jobFromRow(rows[0]), created: true };
  const existing = await findJobByExecution(sql, job.executionId!);
  return { job: existing!, created: false };
}

/** The job created for a state-machine execution, if any. */
export async function findJobByExecution(sql: Sql, executionId: string): Promise<JobRecord | undefined> {
  const { rows } = await sql.query<Row>('SELECT * FROM rekey_jobs WHERE execution_id = $1', [executionId]);
  return rows[0] ? jobFromRow(rows[0]) : undefined;
}

export async function getJob(sql: Sql, jobId: string): Promise<JobRecord> {
  if (!isJobId(jobId)) throw new JobNotFoundError(jobId);
  const { rows } = await sql.query<Row>('SELECT * FROM rekey_jobs WHERE id = $1::uuid', [jobId]);
  if (rows.length === 0) throw new JobNotFoundError(jobId);
  return jobFromRow(rows[0]!);
}

/** The most recent jobs, newest first. */
export async function listJobs(sql: Sql, limit = 20): Promise<JobRecord[]> {
  const { rows } = await sql.query<Row>('SELECT * FROM rekey_jobs ORDER BY created_at DESC, id LIMIT $1', [limit]);
  return rows.map(jobFromRow);
}

/** Extra columns set together with a status change. */
export interface JobPatch {
  readonly error?: string | null;
  readonly plan?: readonly TablePlanSummary[];
  readonly rowsTotal?: number;
  readonly sourceKeyIds?: readonly string[];
  readonly retiredKeyIds?: readonly string[];
  readonly started?: boolean;
  readonly finished?: boolean;
}

/**
 * Moves a job from one of `from` to `to`. Throws JobStateError naming the
 * actual status when the job is not in one of `from` (someone else moved it).
 */
export async function transitionJob(
  sql: Sql,
  jobId: string,
  from: readonly JobStatus[],
  to: JobStatus,
  patch: JobPatch = {},
): Promise<JobRecord> {
  const { rows } = await sql.query<Row>(
    `UPDATE rekey_jobs SET status = $3,
        error = CASE WHEN $4::boolean THEN $5 ELSE error END,
        plan = COALESCE($6::jsonb, plan),
        rows_total = COALESCE($7::bigint, rows_total),
        source_key_ids = COALESCE($8::text[], source_key_ids),
        started_at = CASE WHEN $9::boolean THEN COALESCE(started_at, now()) ELSE started_at END,
        finished_at = CASE WHEN $10::boolean THEN now() ELSE finished_at END,
        retired_key_ids = COALESCE($11::text[], retired_key_ids),
        heartbeat_at = now()
      WHERE id = $1::uuid AND status = ANY($2::text[]) RETURNING *`,
    [
      jobId,
      [...from],
      to,
      patch.error !== undefined,
      patch.error ?? null,
      patch.plan ? JSON.stringify(patch.plan) : null, // an array: sent as JSON text, not as a PostgreSQL array
      patch.rowsTotal ?? null,
      patch.sourceKeyIds ? [...patch.sourceKeyIds] : null,
      patch.started === true,
      patch.finished === true,
      patch.retiredKeyIds ? [...patch.retiredKeyIds] : null,
    ],
  );
  if (rows.length === 0) {
    const current = await getJob(sql, jobId);
    throw new JobStateError(jobId, current.status, to, `expected ${from.join(' or ')}`);
  }
  return jobFromRow(rows[0]!);
}

/** Where verified_keys keeps the since-xid: never a key id (key ids have no underscore). */
const SINCE_XID_FIELD = '__rekey_since_xid';

function verifiedFromColumn(
  stored: Record<string, number | string> | null,
): Pick<JobRecord, 'verifiedKeys' | 'verifiedSinceXid'> {
  if (!stored) return { verifiedKeys: null, verifiedSinceXid: null };
  const { [SINCE_XID_FIELD]: since, ...keys } = stored;
  return { verifiedKeys: keys as Record<string, number>, verifiedSinceXid: since === undefined ? null : String(since) };
}

/** Keeps the counts a job's Verify made over every known table (ids and counts only), and when it began (late-writes.ts). */
export async function recordVerifiedKeys(
  sql: Sql,
  jobId: string,
  keys: Readonly<Record<string, number>>,
  sinceXid?: string,
): Promise<void> {
  const stored = sinceXid === undefined ? keys : { ...keys, [SINCE_XID_FIELD]: sinceXid };
  await sql.query('UPDATE rekey_jobs SET verified_keys = $2::jsonb WHERE id = $1::uuid', [
    jobId,
    JSON.stringify(stored),
  ]);
}

/**
 * Adds key ids to a job's retired keys (kept sorted, each once): a finisher
 * that retired keys but lost the race to end the job records them on it.
 */
export async function addRetiredKeyIds(sql: Sql, jobId: string, keyIds: readonly string[]): Promise<JobRecord> {
  const { rows } = await sql.query<Row>(
    `UPDATE rekey_jobs
        SET retired_key_ids = ARRAY(SELECT DISTINCT k FROM unnest(retired_key_ids || $2::text[]) AS k ORDER BY k)
      WHERE id = $1::uuid
      RETURNING *`,
    [jobId, [...keyIds]],
  );
  if (!rows[0]) throw new JobNotFoundError(jobId);
  return jobFromRow(rows[0]);
}

/** Adds one finished batch's row counts to its job (in the batch's transaction); the job as it is now. */
export async function addBatchCounts(tx: Sql, jobId: string, counts: BatchCounts): Promise<JobRecord> {
  const { rows } = await tx.query<Row>(
    `UPDATE rekey_jobs SET rows_done = rows_done + $2, rows_failed = rows_failed + $3, rows_skipped = rows_skipped + $4,
            rows_conflicted = rows_conflicted + $5, batches_done = batches_done + 1, heartbeat_at = now()
      WHERE id = $1::uuid RETURNING *`,
    [jobId, counts.done, counts.failed, counts.skipped, counts.conflicted],
  );
  return jobFromRow(rows[0]!);
}
