import { scopeFromOptions, type RowScope } from '../batches/row-scope';
import type { Sql } from '../../ports/sql';
import { JobNotFoundError, JobStateError } from '../errors';
import type { BatchStatus, JobStatus } from '../jobs/job-status';
import type { Mode } from '../values/modes';
import type { KeyRange } from '../sql/statements';
import type { IdType } from '../sql/table-shape';

/**
 * Reads and writes `rekey_jobs`, `rekey_job_batches` and `rekey_row_errors`
 * (migration 0002). Every status change is conditional on the status it
 * expects, so two processes racing on one job cannot both win.
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

export interface BatchRef {
  readonly table: string;
  readonly seq: number;
}

/**
 * A batch as one string, for queue messages: `<table>#<seq>`. Registry names
 * are plain identifiers (optionally `schema.name`), so `#` never occurs in them.
 */
export function batchIdOf(ref: BatchRef): string {
  return `${ref.table}#${ref.seq}`;
}

/** Parses `batchIdOf`'s form; undefined when malformed. */
export function parseBatchId(batchId: string): BatchRef | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?)#(0|[1-9][0-9]{0,9})$/.exec(batchId);
  return m ? { table: m[1]!, seq: Number(m[2]) } : undefined;
}

export interface BatchRecord extends BatchRef, KeyRange {
  readonly jobId: string;
  readonly pass: number;
  readonly idType: IdType;
  readonly rowsPlanned: number;
  readonly status: BatchStatus;
  readonly attempts: number;
  readonly worker: string | null;
  readonly leaseUntil: Date | null;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly rowsSkipped: number;
  readonly rowsConflicted: number;
  readonly error: string | null;
  readonly enqueuedAt: Date | null;
}

export interface RowErrorRecord {
  readonly table: string;
  readonly rowId: string;
  readonly column: string;
  readonly code: string;
  readonly message: string;
  readonly at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isJobId(value: string): boolean {
  return UUID.test(value);
}

type Row = Record<string, unknown>;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const date = (v: unknown): Date | null =>
  v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));

export function jobFromRow(r: Row): JobRecord {
  return {
    id: String(r['id']),
    executionId: (r['execution_id'] as string | null) ?? null,
    mode: r['mode'] as Mode,
    status: r['status'] as JobStatus,
    dryRun: Boolean(r['dry_run']),
    tables: (r['tables'] as string[] | null) ?? [],
    targetKeyId: String(r['target_key_id']),
    ...fernetTargetFromOptions(parseOptions(r['options'])),
    scope: scopeFromOptions(parseOptions(r['options'])),
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

export function batchFromRow(r: Row): BatchRecord {
  return {
    jobId: String(r['job_id']),
    table: String(r['table_name']),
    seq: num(r['seq']),
    pass: num(r['pass']),
    lo: (r['lo'] as string | null) ?? null,
    hi: (r['hi'] as string | null) ?? null,
    idType: r['id_type'] as IdType,
    rowsPlanned: num(r['rows_planned']),
    status: r['status'] as BatchStatus,
    attempts: num(r['attempts']),
    worker: (r['worker'] as string | null) ?? null,
    leaseUntil: date(r['lease_until']),
    rowsDone: num(r['rows_done']),
    rowsFailed: num(r['rows_failed']),
    rowsSkipped: num(r['rows_skipped']),
    rowsConflicted: num(r['rows_conflicted']),
    error: (r['error'] as string | null) ?? null,
    enqueuedAt: date(r['enqueued_at']),
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

export async function deleteBatches(sql: Sql, jobId: string): Promise<void> {
  await sql.query('DELETE FROM rekey_job_batches WHERE job_id = $1::uuid', [jobId]);
}

/** Inserts the keyset ranges of one table as batches `seqStart..`, in one statement per 5,000 ranges. */
export async function insertBatches(
  sql: Sql,
  jobId: string,
  table: string,
  idType: IdType,
  ranges: readonly (KeyRange & { readonly rows: number })[],
  pass: number,
  seqStart: number,
): Promise<void> {
  const chunk = 5000;
  for (let i = 0; i < ranges.length; i += chunk) {
    const part = ranges.slice(i, i + chunk);
    await sql.query(
      `INSERT INTO rekey_job_batches (job_id, table_name, seq, pass, lo, hi, id_type, rows_planned)
       SELECT $1::uuid, $2, $3::int + o - 1, $4, lo, hi, $5, n
         FROM unnest($6::text[], $7::text[], $8::int[]) WITH ORDINALITY AS r(lo, hi, n, o)`,
      [
        jobId,
        table,
        seqStart + i,
        pass,
        idType,
        part.map((r) => r.lo),
        part.map((r) => r.hi),
        part.map((r) => String(r.rows)),
      ],
    );
  }
  await sql.query('UPDATE rekey_jobs SET batches_total = batches_total + $2 WHERE id = $1::uuid', [
    jobId,
    ranges.length,
  ]);
}

/** A batch may be claimed when pending, failed with attempts left (`$maxParam`), or running under an expired lease. */
function claimable(maxParam: number): string {
  return `(b.status = 'pending' OR (b.status = 'failed' AND b.attempts < $${maxParam}) OR (b.status = 'running' AND b.lease_until < now()))`;
}

/** A batch now leased to `worker`, with its job's mode, target and row scope. */
export interface ClaimedBatch extends BatchRecord {
  readonly mode: Mode;
  readonly targetKeyId: string;
  /** The job's Fernet target (formats.ts), when it has Fernet tables. */
  readonly fernetTargetKeyId?: string;
  /** The rows of the job, by tenant (row-scope.ts). @default every row */
  readonly scope?: RowScope;
}

function claimedFromRow(r: Row): ClaimedBatch {
  return {
    ...batchFromRow(r),
    mode: r['mode'] as Mode,
    targetKeyId: String(r['target_key_id']),
    ...fernetTargetFromOptions(parseOptions(r['job_options'])),
    scope: scopeFromOptions(parseOptions(r['job_options'])),
  };
}

/** Job option holding the primary Fernet key id of a job with Fernet tables. */
export const OPTION_FERNET_TARGET = 'fernetTargetKeyId';

function fernetTargetFromOptions(options: Record<string, unknown> | null): { fernetTargetKeyId?: string } {
  const id = options?.[OPTION_FERNET_TARGET];
  return typeof id === 'string' ? { fernetTargetKeyId: id } : {};
}

/** jsonb arrives parsed from node-postgres and as text from the Data API. */
function parseOptions(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') return JSON.parse(value) as Record<string, unknown>;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
}

/**
 * Leases one given batch if its job is running and the batch is pending,
 * failed (with attempts left) or running with an expired lease.
 * Undefined when it is not claimable (done, leased by another worker, job not running).
 */
export async function claimBatch(
  sql: Sql,
  jobId: string,
  ref: BatchRef,
  worker: string,
  leaseMs: number,
  maxAttempts: number,
): Promise<ClaimedBatch | undefined> {
  const { rows } = await sql.query<Row>(
    `UPDATE rekey_job_batches b
        SET status = 'running', attempts = b.attempts + 1, worker = $4, error = NULL,
            lease_until = now() + $5 * interval '1 millisecond', started_at = COALESCE(b.started_at, now()), updated_at = now()
       FROM rekey_jobs j
      WHERE b.job_id = $1::uuid AND b.table_name = $2 AND b.seq = $3 AND j.id = b.job_id AND j.status = 'running'
        AND ${claimable(6)}
      RETURNING b.*, j.mode, j.target_key_id, j.options AS job_options`,
    [jobId, ref.table, ref.seq, worker, leaseMs, maxAttempts],
  );
  return rows[0] ? claimedFromRow(rows[0]) : undefined;
}

/** Leases the next claimable batch of a running job (SKIP LOCKED: workers never wait on each other). */
export async function claimNextBatch(
  sql: Sql,
  jobId: string,
  worker: string,
  leaseMs: number,
  maxAttempts: number,
): Promise<ClaimedBatch | undefined> {
  const { rows } = await sql.query<Row>(
    `WITH next AS (
       SELECT b.job_id, b.table_name, b.seq FROM rekey_job_batches b
        WHERE b.job_id = $1::uuid AND ${claimable(4)}
        ORDER BY b.pass, b.seq, b.table_name
        LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE rekey_job_batches b
        SET status = 'running', attempts = b.attempts + 1, worker = $2, error = NULL,
            lease_until = now() + $3 * interval '1 millisecond', started_at = COALESCE(b.started_at, now()), updated_at = now()
       FROM next, rekey_jobs j
      WHERE b.job_id = next.job_id AND b.table_name = next.table_name AND b.seq = next.seq
        AND j.id = b.job_id AND j.status = 'running'
      RETURNING b.*, j.mode, j.target_key_id, j.options AS job_options`,
    [jobId, worker, leaseMs, maxAttempts],
  );
  return rows[0] ? claimedFromRow(rows[0]) : undefined;
}

export async function getBatch(sql: Sql, jobId: string, ref: BatchRef): Promise<BatchRecord | undefined> {
  const { rows } = await sql.query<Row>(
    'SELECT * FROM rekey_job_batches WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3',
    [jobId, ref.table, ref.seq],
  );
  return rows[0] ? batchFromRow(rows[0]) : undefined;
}

export async function listBatches(sql: Sql, jobId: string): Promise<BatchRecord[]> {
  const { rows } = await sql.query<Row>(
    'SELECT * FROM rekey_job_batches WHERE job_id = $1::uuid ORDER BY pass, table_name, seq',
    [jobId],
  );
  return rows.map(batchFromRow);
}

/** Number of batches of a job in each status, plus how many running ones hold a live lease. */
export async function batchStatusCounts(
  sql: Sql,
  jobId: string,
  maxAttempts: number,
): Promise<Record<BatchStatus, number> & { leased: number; retryable: number; nextLeaseExpiryMs: number | null }> {
  const { rows } = await sql.query<Row>(
    `SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
            count(*) FILTER (WHERE status = 'running') AS running,
            count(*) FILTER (WHERE status = 'done') AS done,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status = 'running' AND lease_until >= now()) AS leased,
            count(*) FILTER (WHERE status = 'failed' AND attempts < $2) AS retryable,
            GREATEST(0, EXTRACT(EPOCH FROM (min(lease_until) FILTER (WHERE status = 'running') - now())) * 1000) AS next_expiry
       FROM rekey_job_batches WHERE job_id = $1::uuid`,
    [jobId, maxAttempts],
  );
  const r = rows[0] ?? {};
  return {
    pending: num(r['pending']),
    running: num(r['running']),
    done: num(r['done']),
    failed: num(r['failed']),
    leased: num(r['leased']),
    retryable: num(r['retryable']),
    nextLeaseExpiryMs: r['next_expiry'] === null || r['next_expiry'] === undefined ? null : num(r['next_expiry']),
  };
}

/** Extends a lease this worker still holds; false when it lost it. */
export async function extendLease(sql: Sql, batch: ClaimedBatch, worker: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches SET lease_until = now() + $6 * interval '1 millisecond', updated_at = now()
      WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3 AND status = 'running' AND worker = $4 AND attempts = $5`,
    [batch.jobId, batch.table, batch.seq, worker, batch.attempts, leaseMs],
  );
  return rowCount > 0;
}

/** Gives failed batches their attempts back (resuming a failed job once its cause is fixed). */
export async function resetFailedBatches(sql: Sql, jobId: string): Promise<number> {
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches SET attempts = 0, updated_at = now() WHERE job_id = $1::uuid AND status = 'failed'`,
    [jobId],
  );
  return rowCount;
}

/** Marks a batch this worker holds as failed (it can be claimed again while attempts remain). */
export async function failBatch(sql: Sql, batch: ClaimedBatch, worker: string, error: string): Promise<void> {
  await sql.query(
    `UPDATE rekey_job_batches SET status = 'failed', error = $6, lease_until = NULL, updated_at = now()
      WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3 AND status = 'running' AND worker = $4 AND attempts = $5`,
    [batch.jobId, batch.table, batch.seq, worker, batch.attempts, error],
  );
}

export async function listRowErrors(sql: Sql, jobId: string, limit = 1000): Promise<RowErrorRecord[]> {
  const { rows } = await sql.query<Row>(
    `SELECT table_name, row_id, column_name, code, message, at FROM rekey_row_errors
      WHERE job_id = $1::uuid ORDER BY table_name, row_id, column_name LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({
    table: String(r['table_name']),
    rowId: String(r['row_id']),
    column: String(r['column_name']),
    code: String(r['code']),
    message: String(r['message']),
    at: date(r['at']) ?? new Date(0),
  }));
}

/** Up to `limit` batches of a running job not yet sent to the queue, in claim order. */
export async function batchesToEnqueue(sql: Sql, jobId: string, limit: number): Promise<BatchRef[]> {
  const { rows } = await sql.query<Row>(
    `SELECT table_name, seq FROM rekey_job_batches
      WHERE job_id = $1::uuid AND enqueued_at IS NULL AND status = 'pending'
      ORDER BY pass, seq, table_name LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({ table: String(r['table_name']), seq: num(r['seq']) }));
}

/** Records that these batches were sent (after SendMessage succeeded: a crash in between resends, which is harmless). */
export async function markBatchesEnqueued(sql: Sql, jobId: string, refs: readonly BatchRef[]): Promise<number> {
  if (refs.length === 0) return 0;
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches b SET enqueued_at = COALESCE(b.enqueued_at, now())
       FROM unnest($2::text[], $3::int[]) AS r(t, s)
      WHERE b.job_id = $1::uuid AND b.table_name = r.t AND b.seq = r.s`,
    [jobId, refs.map((r) => r.table), refs.map((r) => String(r.seq))],
  );
  return rowCount;
}

/** Batches of a job not yet sent to the queue. */
export async function countBatchesToEnqueue(sql: Sql, jobId: string): Promise<number> {
  const { rows } = await sql.query<Row>(
    `SELECT count(*) AS n FROM rekey_job_batches WHERE job_id = $1::uuid AND enqueued_at IS NULL AND status = 'pending'`,
    [jobId],
  );
  return num(rows[0]?.['n']);
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
