import { registerKeysetInCatalog } from './catalog-keys';
import type { RotationDeps, StepResult } from './deps';
import type { RotationEvent } from './event';
import { requireTokenKeyset } from './keyset-versions';
import type { RotationState } from './secret-state';

/**
 * setSecret: the pending keyset's new primary goes into the key catalog as
 * `pending` (nothing encrypts under it until finishSecret activates it).
 *
 * Re-run: the row exists as `pending` → nothing. A row for that id in another
 * state, or owned by another keyring, is a RotationStateError naming it.
 */
export async function setSecret(deps: RotationDeps, event: RotationEvent, state: RotationState): Promise<StepResult> {
  const step = 'setSecret' as const;
  const keyset = await requireTokenKeyset(deps, event, state);
  await deps.ensureSchema?.();
  const { added } = await registerKeysetInCatalog(deps, keyset);
  const status = (await deps.catalog.require(keyset.primary)).status;
  return {
    step,
    outcome: added.length > 0 ? 'done' : 'already-done',
    newKeyId: keyset.primary,
    detail: `catalog holds ${keyset.primary} as ${status}${added.length ? ` (registered ${added.join(', ')})` : ''}`,
  };
}
