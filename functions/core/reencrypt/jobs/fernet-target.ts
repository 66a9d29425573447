import type { Sql } from '../../ports/sql';
import { JobOptionsError } from '../errors';
import { targetFormat } from '../values/formats';
import type { Mode } from '../values/modes';
import type { RegistryTable } from '../config/registry';
import { tableKey } from '../config/registry';

/**
 * The Fernet key a job's Fernet tables end under, fixed when the job is
 * created (kept in its options, so every batch of the job, on any worker,
 * targets the same key): the one given (the runtime's ENCRYPTION_KEY), which
 * must be the catalog's active Fernet key, or else the catalog's active
 * Fernet key. Undefined when the job has no Fernet table in a mode that keeps
 * formats. A job that needs one and finds none is a JobOptionsError naming
 * the tables and the variable to set.
 */
export async function resolveFernetTarget(
  tx: Sql,
  tables: readonly RegistryTable[],
  mode: Mode,
  request: {
    readonly fernetTargetKeyId?: string | undefined;
    readonly dryRun?: boolean | undefined;
    readonly previewTarget?: boolean | undefined;
  },
): Promise<string | undefined> {
  const fernetTables = tables.filter((t) => targetFormat(t, mode) === 'fernet').map(tableKey);
  if (fernetTables.length === 0) return undefined;
  const { rows } = await tx.query<{ id: string; status: string }>(
    `SELECT id, status FROM rekey_keys WHERE keyring = 'fernet' AND tenant IS NULL AND (status = 'active' OR id = $1)`,
    [request.fernetTargetKeyId ?? null],
  );
  const active = rows.find((r) => r.status === 'active')?.id;
  const wanted = request.fernetTargetKeyId;
  const where = `${fernetTables.join(', ')} ${fernetTables.length === 1 ? 'has' : 'have'} format "fernet"`;
  if (wanted === undefined) {
    if (active) return active;
    throw new JobOptionsError(
      `invalid job request:\n  ${where} but the key catalog has no active Fernet key: set ENCRYPTION_KEY (and ENCRYPTION_KEY_FALLBACK)`,
    );
  }
  if (wanted === active) return wanted;
  const known = rows.find((r) => r.id === wanted);
  // A dry run may preview the Fernet key about to be deployed, as it may the KEK (jobs.ts).
  if (request.dryRun === true && request.previewTarget === true && (!known || known.status === 'pending'))
    return wanted;
  throw new JobOptionsError(
    `invalid job request:\n  ${where}: the Fernet key ${wanted} (ENCRYPTION_KEY) is ${known ? known.status : 'not in the key catalog'}` +
      (active ? ` (the active Fernet key is ${active})` : ''),
  );
}
