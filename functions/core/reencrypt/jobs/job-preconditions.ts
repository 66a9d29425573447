import type { Sql } from '../../ports/sql';
import { JobOptionsError, RegistryError, type RegistryProblem } from '../errors';
import type { EngineDeps } from '../ports';
import { selectTables, tableKey, type Registry, type RegistryTable } from '../config/registry';
import { describeTable, type TableShape } from '../sql/table-shape';
import { transitionJob, type JobRecord } from '../store/jobs-table';
import { columnSets } from '../values/modes';
import type { JobRequest } from './jobs';

/**
 * What createJob and planJob (jobs.ts) check before they write anything:
 * the tables a request names, its target key, and every table against the
 * database. Each throws JobOptionsError / RegistryError naming the problem.
 */

/**
 * The registry tables of a request, and the keys of those the job covers: a
 * tenant's job covers only tables with a tenant column, and naming one
 * without is an error.
 */
export function requestTables(
  registry: Registry,
  request: Pick<JobRequest, 'tables' | 'tenant'>,
): { selected: readonly RegistryTable[]; tables: string[] } {
  const tenant = request.tenant ?? null;
  const selected = selectTables(registry, request.tables);
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
  return { selected, tables };
}

/** A target the catalog does not hold as active would fail on every row of the real run, after a dry run said all was well. */
export async function checkTargetKey(
  tx: Sql,
  request: Pick<JobRequest, 'targetKeyId' | 'dryRun' | 'previewTarget'>,
): Promise<void> {
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
}

/** A job table with its shape as the database has it. */
export interface DescribedTable {
  readonly table: RegistryTable;
  readonly shape: TableShape;
}

/**
 * Every table of a planning job checked against the database first, so one
 * error names every problem of every table; a job that cannot be planned is
 * marked failed with them (never left in `planning`).
 */
export async function describeJobTables(deps: EngineDeps, job: JobRecord): Promise<DescribedTable[]> {
  const problems: RegistryProblem[] = [];
  const described: DescribedTable[] = [];
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
    await transitionJob(deps.sql, job.id, ['planning'], 'failed', { error: err.message });
    throw err;
  }
  return described;
}
