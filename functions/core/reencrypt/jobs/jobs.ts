import type { EngineDeps } from '../ports';
import { DEFAULT_ABORT_MIN_ROWS, DEFAULT_MAX_ERROR_RATE } from './error-rate';
import { JobOptionsError, RegistryError, type RegistryProblem } from '../errors';
import {
  deleteBatches,
  getJob,
  insertBatches,
  insertJob,
  transitionJob,
  type JobRecord,
  type TablePlanSummary,
} from '../store/job-store';
import { columnSets, isMode, MODES, type Mode } from '../values/modes';
import { formatDryRun, planTable, type TablePlan } from '../batches/planner';
import { selectTables, tableKey, type RegistryTable } from '../config/registry';
import { describeTable, type TableShape } from '../sql/table-shape';
import { describeScope, scopeFor, scopeToOptions } from '../batches/row-scope';
import { rememberTables } from '../config/known-tables';
import { resolveFernetTarget } from './fernet-target';
import { targetKeyFor } from '../values/formats';
import { isFernetKeyId } from '../../keys/policy';
import { OPTION_FERNET_TARGET } from '../store/job-store';

/**
 * Creating and planning re-encryption jobs. A job is a row in `rekey_jobs`;
 * planning cuts its tables into keyset batches (`rekey_job_batches`) in one
 * transaction, so a crash while planning leaves either no batches or all of
 * them, and planning again simply starts over.
 */

/** Default rows per batch; see docs/performance.md for the measurements behind it. */
export const DEFAULT_BATCH_SIZE = 2000;
export const MAX_BATCH_SIZE = 100_000;

export interface JobRequest {
  readonly mode: Mode;
  /** The key every value should end under (normally the primary key). */
  readonly targetKeyId: string;
  /** Table names; all registered tables when absent or empty. */
  readonly tables?: readonly string[] | undefined;
  /** Default DEFAULT_BATCH_SIZE. */
  readonly batchSize?: number | undefined;
  /** Plan and report only; the tables are not touched. */
  readonly dryRun?: boolean | undefined;
  /** Abort when failed rows pass this fraction of attempted rows. Default 0.01. */
  readonly maxErrorRate?: number | undefined;
  /** Attempted rows before the error rate is judged while running. Default 1,000. */
  readonly abortMinRows?: number | undefined;
  /** Who asked: a user, `schedule`, `rotation-hook`, ... */
  readonly requestedBy: string;
  /**
   * Idempotency key, e.g. the Step Functions execution id: creating a job
   * again with the same key returns the existing job (a retried Plan task).
   */
  readonly executionId?: string | undefined;
  /** Extra settings to keep with the job (ids and counts only). */
  readonly options?: Readonly<Record<string, string | number | boolean>> | undefined;
  /**
   * Only this tenant's rows (tables with a tenant column), moved to
   * `targetKeyId` — the tenant's own key. Absent or null: a global job, which
   * leaves the rows of tenants that have their own active key alone.
   */
  readonly tenant?: string | null | undefined;
  /**
   * Dry runs only: the target is the key a catalog sync would register or
   * activate (the key about to be deployed) and may be missing or pending in
   * the catalog. Anything else must be active, so a mistyped key id is
   * refused rather than previewed.
   */
  readonly previewTarget?: boolean | undefined;
  /**
   * The primary Fernet key (`fernet:<fingerprint>` of ENCRYPTION_KEY) the
   * job's Fernet tables end under; must be the catalog's active Fernet key.
   * @default the catalog's active Fernet key, when a table has format fernet
   */
  readonly fernetTargetKeyId?: string | undefined;
}

/** Validates a request; every problem at once. */
export function validateJobRequest(request: JobRequest): string[] {
  const problems: string[] = [];
  if (!isMode(request.mode))
    problems.push(`mode: must be one of ${MODES.join(', ')}, got ${JSON.stringify(request.mode)}`);
  if (typeof request.targetKeyId !== 'string' || request.targetKeyId.length === 0)
    problems.push('targetKeyId: required');
  else if (isFernetKeyId(request.targetKeyId)) {
    // A Fernet key never encrypts an envelope; the Fernet tables' target is the active Fernet key (fernetTargetKeyId).
    problems.push(
      `targetKeyId: ${request.targetKeyId} is a Fernet key; name a KEK (Fernet tables go to ENCRYPTION_KEY's key, the catalog's active Fernet key)`,
    );
  }
  const batchSize = request.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    problems.push(`batchSize: must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${String(request.batchSize)}`);
  }
  const rate = request.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
    problems.push(`maxErrorRate: must be a number from 0 to 1 (0.01 = 1 %), got ${String(request.maxErrorRate)}`);
  }
  const minRows = request.abortMinRows ?? DEFAULT_ABORT_MIN_ROWS;
  if (!Number.isInteger(minRows) || minRows < 0)
    problems.push(`abortMinRows: must be a non-negative integer, got ${String(request.abortMinRows)}`);
  if (typeof request.requestedBy !== 'string' || request.requestedBy.length === 0)
    problems.push('requestedBy: required');
  return problems;
}

/**
 * Records a new job (status `pending`), or returns the job already created
 * for `executionId`. Throws JobOptionsError / RegistryError on bad input.
 */
export async function createJob(
  deps: Pick<EngineDeps, 'sql' | 'registry' | 'audit'>,
  request: JobRequest,
): Promise<JobRecord> {
  const problems = validateJobRequest(request);
  if (problems.length > 0) throw new JobOptionsError(`invalid job request:\n  ${problems.join('\n  ')}`);
  const tenant = request.tenant ?? null;
  const selected = selectTables(deps.registry, request.tables);
  const tables = selected.filter((t) => tenant === null || t.tenantColumn !== undefined).map(tableKey);
  if (tenant !== null) {
    const untenanted = selected.filter((t) => t.tenantColumn === undefined).map(tableKey);
    if (request.tables?.length && untenanted.length > 0) {
      throw new JobOptionsError(
        `invalid job request:\n  tables: ${untenanted.join(', ')} ha${untenanted.length === 1 ? 's' : 've'} no tenantColumn, so a job for tenant ${JSON.stringify(tenant)} cannot tell its rows`,
      );
    }
    if (tables.length === 0)
      throw new JobOptionsError(
        `invalid job request:\n  tenant: no registered table has a tenantColumn, so no row belongs to tenant ${JSON.stringify(tenant)}`,
      );
  }
  return deps.sql.transaction(async (tx) => {
    // A target the catalog does not hold as active would fail on every row of the real run, after a dry run said all was well.
    const target = await tx.query<{ status: string; tenant: string | null }>(
      'SELECT status, tenant FROM rekey_keys WHERE id = $1',
      [request.targetKeyId],
    );
    const targetKey = target.rows[0];
    // A dry run may preview the key about to be deployed (not yet registered,
    // or pending): it only counts, and registering it would already change
    // what every application encrypts with.
    const previewable =
      request.dryRun === true && request.previewTarget === true && (!targetKey || targetKey.status === 'pending');
    if (!targetKey && !previewable)
      throw new JobOptionsError(
        `invalid job request:\n  targetKeyId: ${JSON.stringify(request.targetKeyId)} is not in the key catalog (rekey keys list)`,
      );
    if (targetKey && targetKey.status !== 'active' && !previewable) {
      throw new JobOptionsError(
        `invalid job request:\n  targetKeyId: ${JSON.stringify(request.targetKeyId)} is ${targetKey.status}: only an active key can be a target (rekey keys activate)`,
      );
    }
    // Fixed now for every batch of the job: a global job leaves alone the tenants that have their own active key.
    const owners = await tx.query<{ tenant: string }>(
      `SELECT DISTINCT tenant FROM rekey_keys WHERE status = 'active' AND tenant IS NOT NULL`,
    );
    const scope = scopeFor(
      tenant,
      owners.rows.map((r) => r.tenant),
    );
    const fernetTarget = await resolveFernetTarget(
      tx,
      selected.filter((t) => tables.includes(tableKey(t))),
      request.mode,
      request,
    );
    // Remembered for every later retire or destroy, whatever config those run with.
    await rememberTables(tx, deps.registry.tables);
    const { job, created } = await insertJob(tx, {
      mode: request.mode,
      dryRun: request.dryRun === true,
      tables,
      targetKeyId: request.targetKeyId,
      batchSize: request.batchSize ?? DEFAULT_BATCH_SIZE,
      maxErrorRate: request.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE,
      abortMinRows: request.abortMinRows ?? DEFAULT_ABORT_MIN_ROWS,
      requestedBy: request.requestedBy,
      executionId: request.executionId,
      options: {
        ...(request.options ?? {}),
        ...scopeToOptions(scope),
        ...(fernetTarget ? { [OPTION_FERNET_TARGET]: fernetTarget } : {}),
      },
    });
    if (created) {
      await deps.audit?.record(tx, {
        actor: request.requestedBy,
        action: 'job.created',
        subject: `job:${job.id}`,
        details: {
          mode: job.mode,
          targetKeyId: job.targetKeyId,
          ...(fernetTarget ? { fernetTargetKeyId: fernetTarget } : {}),
          tables: job.tables,
          dryRun: job.dryRun,
          batchSize: job.batchSize,
          rows: describeScope(job.scope),
        },
      });
    }
    return job;
  });
}

export interface PlanResult {
  readonly job: JobRecord;
  /** Per-table counts (also kept in the job's `plan`). */
  readonly summary: readonly TablePlanSummary[];
  /** Dry runs: the report lines (`DRY RUN: Would re-encrypt 42 of 100 records`). */
  readonly report?: readonly string[];
  /** False when the job had been planned already (a retried Plan task): nothing was done. */
  readonly planned: boolean;
}

export function summarize(plans: readonly TablePlan[]): TablePlanSummary[] {
  return plans.map((p) => ({
    table: p.table,
    rowsTotal: p.rowsTotal,
    rowsPending: p.rowsPending,
    batches: p.ranges.length,
  }));
}

/**
 * Plans a pending job (or re-plans one that crashed while planning): counts
 * the pending rows of each table and writes its batches; the job goes to
 * `running`. A dry run writes no batches and goes straight to `completed`
 * with the counts in `plan`; the application tables are only read. Planning
 * a job that is past planning returns its recorded plan and changes nothing.
 */
export async function planJob(deps: EngineDeps, jobId: string): Promise<PlanResult> {
  let job = await getJob(deps.sql, jobId);
  if (job.status === 'pending' || (job.status === 'failed' && job.counters.batchesTotal === 0 && job.plan === null)) {
    job = await transitionJob(deps.sql, jobId, [job.status], 'planning', { started: true, error: null });
  } else if (job.status !== 'planning') {
    const summary = job.plan ?? [];
    return { job, summary, planned: false, ...(job.dryRun ? { report: formatDryRun(job.mode, summary) } : {}) };
  }

  // Every table checked against the database first, so one error names every problem of every table;
  // a job that cannot be planned is marked failed with them (never left in `planning`).
  const problems: RegistryProblem[] = [];
  const described: { table: RegistryTable; shape: TableShape }[] = [];
  for (const key of job.tables) {
    const table = deps.registry.tables.find((t) => tableKey(t) === key);
    if (!table) {
      problems.push({ path: key, message: 'the job names a table that is not in this registry' });
      continue;
    }
    const indexColumns = Object.values(columnSets(table, job.mode).blindIndex);
    if ((job.mode === 'encrypt' || job.mode === 'migrate') && indexColumns.length > 0 && !deps.blindIndex) {
      // Found now, not as an error on every row of the real run (a dry run would have said all is well).
      problems.push({
        path: `${key}.blindIndex`,
        message: `${indexColumns.join(', ')} need a blind index key: set BLIND_INDEX_KEY=bidx-v1:<base64 of 32 bytes>`,
      });
    }
    try {
      described.push({ table, shape: await describeTable(deps.sql, table) });
    } catch (err) {
      if (!(err instanceof RegistryError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) {
    const err = new RegistryError(problems, 'registry vs. database');
    await transitionJob(deps.sql, jobId, ['planning'], 'failed', { error: err.message });
    throw err;
  }
  const plans: TablePlan[] = [];
  for (const { table, shape } of described) {
    plans.push(
      await planTable(
        deps,
        table,
        shape,
        job.mode,
        targetKeyFor(table, job.mode, { keyId: job.targetKeyId, fernetKeyId: job.fernetTargetKeyId }),
        job.batchSize,
        job.scope,
      ),
    );
    await deps.faults?.('plan.table');
  }
  const summary = summarize(plans);
  const rowsTotal = plans.reduce((a, p) => a + p.rowsPending, 0);
  const sourceKeyIds = [...new Set(plans.flatMap((p) => p.sourceKeyIds))].sort();

  if (job.dryRun) {
    job = await deps.sql.transaction(async (tx) => {
      const done = await transitionJob(tx, jobId, ['planning'], 'completed', {
        plan: summary,
        rowsTotal,
        sourceKeyIds,
        finished: true,
      });
      await deps.audit?.record(tx, {
        actor: job.requestedBy,
        action: 'job.dry_run',
        subject: `job:${jobId}`,
        details: { tables: summary },
      });
      return done;
    });
    return { job, summary, report: formatDryRun(job.mode, plans), planned: true };
  }

  job = await deps.sql.transaction(async (tx) => {
    await deleteBatches(tx, jobId);
    await tx.query('UPDATE rekey_jobs SET batches_total = 0 WHERE id = $1::uuid', [jobId]);
    for (const p of plans) await insertBatches(tx, jobId, p.table, p.idType, p.ranges, 1, 0);
    await deps.faults?.('plan.batches-written');
    const running = await transitionJob(tx, jobId, ['planning'], 'running', { plan: summary, rowsTotal, sourceKeyIds });
    await deps.audit?.record(tx, {
      actor: job.requestedBy,
      action: 'job.planned',
      subject: `job:${jobId}`,
      details: { tables: summary, rowsTotal, batches: running.counters.batchesTotal, sourceKeyIds },
    });
    return running;
  });
  return { job, summary, planned: true };
}
