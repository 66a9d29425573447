import type { EngineDeps } from '../ports';
import { JobStateError } from '../errors';
import { isTerminal } from './job-status';
import { addRetiredKeyIds, getJob, transitionJob, type JobRecord } from '../store/jobs-table';
import { tableKey } from '../config/registry';
import { retireVerifiedKeys, type RetireResult } from '../verify/retire';
import { verify, type VerifyReport } from '../verify/verify';
import { coverage } from '../config/known-tables';
import { valuesWrittenSince } from '../verify/late-writes';

/**
 * How a verified job ends (job-phases.ts verifyJob and finalizeJob): the
 * counts per key that retiring relies on, the keys retired, the reasons the
 * job did not end clean, and the transition out of `verifying`, which only
 * one runner of the job wins.
 */

/** Verify's counts plus the values of rows written since Verify began (late-writes.ts); undefined: count everything again. */
export async function withLateWrites(
  deps: EngineDeps,
  job: JobRecord,
  verified: Readonly<Record<string, number>>,
): Promise<Pick<VerifyReport, 'keys'> | undefined> {
  if (job.verifiedSinceXid === null) return { keys: verified };
  const late = await valuesWrittenSince(deps, (await coverage(deps.sql, deps.registry)).registry, job.verifiedSinceXid);
  if (!late) return undefined;
  const keys: Record<string, number> = { ...verified };
  for (const [k, n] of Object.entries(late)) keys[k] = (keys[k] ?? 0) + n;
  return { keys };
}

export async function retireEmptyKeys(
  deps: EngineDeps,
  job: JobRecord,
  counts: Pick<VerifyReport, 'keys'>,
): Promise<RetireResult | undefined> {
  if (!deps.catalog) return undefined;
  return retireVerifiedKeys({ catalog: deps.catalog }, counts, job.requestedBy, { job: job.id });
}

/**
 * Values per key over every table that may hold some: the registry's and
 * every table rekey has known (a narrower config must not retire a key that a
 * table it no longer lists still uses). `report` is reused when it already
 * covers them all, unscoped.
 */
export async function fullCounts(
  deps: EngineDeps,
  report: VerifyReport | undefined,
  targetKeyId = report?.targetKeyId ?? '',
): Promise<Pick<VerifyReport, 'keys'>> {
  const tables = await coverage(deps.sql, deps.registry);
  const everyTable = tables.registry.tables.map(tableKey);
  if (
    report !== undefined &&
    report.scope.kind === 'all' &&
    everyTable.every((t) => report.tables.some((v) => v.table === t))
  )
    return report;
  return verify({ ...deps, registry: tables.registry }, { targetKeyId, pageSize: deps.pageSize });
}

export function reasons(job: JobRecord, report: VerifyReport | undefined, retire: RetireResult | undefined): string[] {
  const why: string[] = [];
  if (report && !report.allOnTarget) {
    why.push(
      `${report.tables.reduce((a, t) => a + t.rowsNotOnTarget, 0)} row(s) not on ${job.targetKeyId}${job.fernetTargetKeyId ? ` / ${job.fernetTargetKeyId}` : ''}`,
    );
  }
  if (report && job.mode === 'encrypt' && report.plaintextSources > 0)
    why.push(`${report.plaintextSources} row(s) still hold a plaintext source`);
  if (report && report.decryptFailures > 0) why.push(`${report.decryptFailures} value(s) failed to decrypt`);
  if (job.counters.rowsFailed > 0) why.push(`${job.counters.rowsFailed} row(s) failed (see rekey_row_errors)`);
  for (const k of retire?.kept ?? []) {
    // A key kept only because live readers still encrypt with it is not this job's failure: it is retired later.
    if (k.values > 0 && job.sourceKeyIds.includes(k.keyId))
      why.push(`key ${k.keyId} still holds ${k.values} value(s) and was not retired`);
  }
  return why;
}

/** Ends a `verifying` job; when another runner of the same job finished it first, its outcome stands. */
export async function finish(
  deps: EngineDeps,
  job: JobRecord,
  status: 'completed' | 'completed_with_errors',
  why: readonly string[],
  retire?: RetireResult,
): Promise<JobRecord> {
  try {
    return await deps.sql.transaction(async (tx) => {
      const done = await transitionJob(tx, job.id, ['verifying'], status, {
        finished: true,
        error: why.length ? why.join('; ') : null,
        retiredKeyIds: retire?.retired ?? [],
      });
      await deps.audit?.record(tx, {
        actor: job.requestedBy,
        action: `job.${status}`,
        subject: `job:${job.id}`,
        details: { ...done.counters, retired: retire?.retired ?? [], kept: retire?.kept ?? [] },
      });
      return done;
    });
  } catch (err) {
    if (!(err instanceof JobStateError)) throw err;
    const current = await getJob(deps.sql, job.id);
    if (!isTerminal(current.status)) throw err;
    // Another runner of the job ended it first, possibly after this one retired a key (it then found
    // nothing left to retire): the keys this finisher retired are the job's too.
    const retired = retire?.retired ?? [];
    if (retired.length === 0 || retired.every((k) => current.retiredKeyIds.includes(k))) return current;
    return addRetiredKeyIds(deps.sql, job.id, retired);
  }
}
