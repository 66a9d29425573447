import type { EngineDeps } from '../ports';
import { KeyLifecycleError } from '../errors';
import { startJob, type JobOutcome, type RunOptions } from '../jobs/job-runner';
import type { KeyLifecycle } from '../ports';
import { isFernetKeyId } from '../../keys/policy';

/**
 * Rollback: make the previous key primary again in the catalog, then rewrap
 * every value back to it. The key rolled back from becomes `rotating` and is
 * retired by the job's verify once nothing is left under it, like any other
 * rotation. Rewrap only: the data keys and ciphertexts stay as they are.
 */

export interface RollbackRequest {
  /** The key to return to; default: the one `rotating` key of the global scope. */
  readonly toKeyId?: string | undefined;
  readonly requestedBy: string;
  readonly tables?: readonly string[] | undefined;
  readonly batchSize?: number | undefined;
  readonly maxErrorRate?: number | undefined;
}

export interface RollbackOutcome extends JobOutcome {
  readonly fromKeyId: string;
  readonly toKeyId: string;
}

/** The active key of the global scope and the key a rollback returns to. */
export async function rollbackTarget(
  catalog: KeyLifecycle,
  toKeyId?: string,
): Promise<{ fromKeyId: string; toKeyId: string }> {
  // KEKs only: a Fernet table's key is rotated by a plain reencrypt with a new ENCRYPTION_KEY.
  const keys = (await catalog.list()).filter((k) => (k.tenant ?? null) === null && !isFernetKeyId(k.id));
  const active = keys.find((k) => k.status === 'active');
  if (!active) throw new KeyLifecycleError('rollback: the catalog has no active key in the global scope');
  if (toKeyId !== undefined) {
    const target = keys.find((k) => k.id === toKeyId);
    if (!target)
      throw new KeyLifecycleError(`rollback: key ${JSON.stringify(toKeyId)} is not in the catalog's global scope`);
    if (target.status === 'destroyed')
      throw new KeyLifecycleError(`rollback: key ${toKeyId} is destroyed; nothing can be rolled back to it`);
    if (target.id === active.id) throw new KeyLifecycleError(`rollback: key ${toKeyId} is already the active key`);
    return { fromKeyId: active.id, toKeyId };
  }
  const rotating = keys.filter((k) => k.status === 'rotating');
  if (rotating.length !== 1) {
    throw new KeyLifecycleError(
      rotating.length === 0
        ? 'rollback: no rotating key to return to; name one with toKeyId (a retired key)'
        : `rollback: several rotating keys (${rotating.map((k) => k.id).join(', ')}); name one with toKeyId`,
    );
  }
  return { fromKeyId: active.id, toKeyId: rotating[0]!.id };
}

export async function rollback(
  deps: EngineDeps & { readonly catalog: KeyLifecycle },
  request: RollbackRequest,
  options: RunOptions = {},
): Promise<RollbackOutcome> {
  const { fromKeyId, toKeyId } = await rollbackTarget(deps.catalog, request.toKeyId);
  await deps.catalog.activate(toKeyId, request.requestedBy);
  await deps.refreshKeys?.();
  await deps.audit?.record(deps.sql, {
    actor: request.requestedBy,
    action: 'key.rollback',
    subject: `key:${toKeyId}`,
    details: { from: fromKeyId, to: toKeyId },
  });
  const outcome = await startJob(
    deps,
    {
      mode: 'rewrap',
      targetKeyId: toKeyId,
      tables: request.tables,
      batchSize: request.batchSize,
      maxErrorRate: request.maxErrorRate,
      requestedBy: request.requestedBy,
      options: { rollbackFrom: fromKeyId },
    },
    options,
  );
  return { ...outcome, fromKeyId, toKeyId };
}
