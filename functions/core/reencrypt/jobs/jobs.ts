import type { EngineDeps } from '../ports';
import { describeSettingProblems, JOB_DEFAULTS, jobSettingProblems } from '../../job-settings';
import type { Sql } from '../../ports/sql';
import { JobOptionsError } from '../errors';
import { deleteBatches, insertBatches } from '../store/batches-table';
import { getJob, insertJob, transitionJob, type JobRecord, type TablePlanSummary } from '../store/jobs-table';
import { isMode, MODES, type Mode } from '../values/modes';
import { formatDryRun, planTable, type TablePlan } from '../batches/planner';
import { tableKey } from '../config/registry';
import { describeScope, scopeFor, scopeToOptions } from '../batches/row-scope';
import { rememberTables } from '../config/known-tables';
import { resolveFernetTarget } from './fernet-target';
import { checkTargetKey, describeJobTables, requestTables, type DescribedTable } from './job-preconditions';
import { targetKeyFor } from '../values/formats';
import { isFernetKeyId } from '../../crypto/key-policy';
import { OPTION_FERNET_TARGET } from '../store/row-values';

/**
 * Creating and planning re-encryption jobs. A job is a row in `rekey_jobs`;
 * planning cuts its tables into keyset batches (`rekey_job_batches`) in one
 * transaction, so a crash while planning leaves either no batches or all of
 * them, and planning again simply starts over.
 */

export interface JobRequest {
  readonly mode: Mode;
  /** The key every value should end under (normally the primary key). */
  readonly targetKeyId: string;
  /** Table names; all registered tables when absent or empty. */
  readonly tables?: readonly string[] | undefined;
  /** @default JOB_DEFAULTS.batchSize */
  readonly batchSize?: number | undefined;
  /** Plan and report only; the tables are not touched. */
  readonly dryRun?: boolean | undefined;
  /** Abort when failed rows pass this fraction of attempted rows. @default JOB_DEFAULTS.maxErrorRate */
  readonly maxErrorRate?: number | undefined;
  /** Attempted rows before the error rate is judged while running. @default JOB_DEFAULTS.abortMinRows */
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
  problems.push(
    ...describeSettingProblems(
      jobSettingProblems(
        { batchSize: request.batchSize, maxErrorRate: request.maxErrorRate, abortMinRows: request.abortMinRows },
        String,
      ),
    ),
  );
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
  const { selected, tables } = requestTables(deps.registry, request);
  return deps.sql.transaction(async (tx) => {
    await checkTargetKey(tx, request);
    // Fixed now for every batch of the job: a global job leaves alone the tenants that have their own active key.
    const owners = await tx.query<{ tenant: string }>(
      `SELECT DISTINCT tenant FROM rekey_keys WHERE status = 'active' AND tenant IS NOT NULL`,
    );
    const scope = scopeFor(
      request.tenant ?? null,
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
      batchSize: request.batchSize ?? JOB_DEFAULTS.batchSize,
      maxErrorRate: request.maxErrorRate ?? JOB_DEFAULTS.maxErrorRate,
      abortMinRows: request.abortMinRows ?? JOB_DEFAULTS.abortMinRows,
      requestedBy: request.requestedBy,
      executionId: request.executionId,
      options: {
        ...(request.options ?? {}),
        ...scopeToOptions(scope),
        ...(fernetTarget ? { [OPTION_FERNET_TARGET]: fernetTarget } : {}),
      },
    });
    if (created) await auditCreated(deps, tx, job, fernetTarget);
    return job;
  });
}

async function auditCreated(
  deps: Pick<EngineDeps, 'audit'>,
  tx: Sql,
  job: JobRecord,
  fernetTarget: string | undefined,
): Promise<void> {
  await deps.audit?.record(tx, {
    actor: job.requestedBy,
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
  const plans = await planTables(deps, job, await describeJobTables(deps, job));
  const summary = summarize(plans);
  const totals = {
    plan: summary,
    rowsTotal: plans.reduce((a, p) => a + p.rowsPending, 0),
    sourceKeyIds: [...new Set(plans.flatMap((p) => p.sourceKeyIds))].sort(),
  };
  if (job.dryRun) {
    const done = await completeDryRun(deps, job, totals);
    return { job: done, summary, report: formatDryRun(done.mode, plans), planned: true };
  }
  return { job: await writeBatches(deps, job, plans, totals), summary, planned: true };
}

/** What planning found, kept with the job. */
interface PlanTotals {
  readonly plan: TablePlanSummary[];
  readonly rowsTotal: number;
  readonly sourceKeyIds: string[];
}

/** Counts the pending rows of each table and cuts them into keyset ranges (the application tables are only read). */
async function planTables(
  deps: EngineDeps,
  job: JobRecord,
  described: readonly DescribedTable[],
): Promise<TablePlan[]> {
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
  return plans;
}

/** A dry run writes no batches: it goes straight to `completed` with the counts in `plan`. */
async function completeDryRun(deps: EngineDeps, job: JobRecord, totals: PlanTotals): Promise<JobRecord> {
  return deps.sql.transaction(async (tx) => {
    const done = await transitionJob(tx, job.id, ['planning'], 'completed', { ...totals, finished: true });
    await deps.audit?.record(tx, {
      actor: job.requestedBy,
      action: 'job.dry_run',
      subject: `job:${job.id}`,
      details: { tables: totals.plan },
    });
    return done;
  });
}

/** Writes every batch of the job in one transaction (a crash leaves none or all) and sets it `running`. */
async function writeBatches(
  deps: EngineDeps,
  job: JobRecord,
  plans: readonly TablePlan[],
  totals: PlanTotals,
): Promise<JobRecord> {
  const jobId = job.id;
  return deps.sql.transaction(async (tx) => {
    await deleteBatches(tx, jobId);
    await tx.query('UPDATE rekey_jobs SET batches_total = 0 WHERE id = $1::uuid', [jobId]);
    for (const p of plans) await insertBatches(tx, jobId, p.table, p.idType, p.ranges, 1, 0);
    await deps.faults?.('plan.batches-written');
    const running = await transitionJob(tx, jobId, ['planning'], 'running', totals);
    const { plan, rowsTotal, sourceKeyIds } = totals;
    await deps.audit?.record(tx, {
      actor: job.requestedBy,
      action: 'job.planned',
      subject: `job:${jobId}`,
      details: { tables: plan, rowsTotal, batches: running.counters.batchesTotal, sourceKeyIds },
    });
    return running;
  });
}
