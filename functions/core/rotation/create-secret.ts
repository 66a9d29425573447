import type { Keyset } from '../crypto/keyrings/keyset';
import { addKeyVersion, createKeyset, generateWrappedKek, removeKey } from '../crypto/keyrings/keyset-changes';
import { serializeKeyset } from '../crypto/keyrings/keyset-document';
import { AWSPENDING } from '../ports/secrets';
import { chooseNewKeyId, destroyedKeyIds } from './catalog-keys';
import type { RotationDeps, StepResult } from './deps';
import type { RotationEvent } from './event';
import { findTokenKeyset, readCurrentKeyset } from './keyset-versions';
import type { RotationState } from './secret-state';

/**
 * createSecret: AWSCURRENT's keyset plus a fresh KMS-wrapped KEK `kek-vN+1`
 * as its primary, stored as the token's version, staged AWSPENDING. Keys the
 * catalog holds as destroyed are left out: the keyset carries every KEK not
 * yet destroyed, and this is where a destroy reaches the secret.
 *
 * Re-run: the token's version already holds a keyset → nothing (a second KEK
 * would differ, and Secrets Manager refuses to change a stored version).
 *
 * A stale AWSPENDING left on another version by an earlier failed rotation
 * does not matter: the new keyset is always built from AWSCURRENT, never from
 * a pending version, and Secrets Manager keeps a staging label on one version
 * at most — RotateSecret (or, failing that, this PutSecretValue with
 * VersionStages [AWSPENDING]) moves the label to the token's version and the
 * stale version is left unlabelled (checked against moto in the integration
 * test). The abandoned KEK never encrypted anything; if setSecret had
 * registered it, its `pending` catalog row is reused for the new KEK's id.
 */
export async function createSecret(
  deps: RotationDeps,
  event: RotationEvent,
  state: RotationState,
): Promise<StepResult> {
  const step = 'createSecret' as const;
  const existing = await findTokenKeyset(deps, event, state);
  if (existing) {
    return {
      step,
      outcome: 'already-done',
      newKeyId: existing.primary,
      detail: `version ${event.ClientRequestToken} already holds the pending keyset (primary ${existing.primary})`,
    };
  }
  const current = await readCurrentKeyset(deps, event, state);
  // The first rotation may come before anything else reached the database: the catalog's tables may not exist yet.
  await deps.ensureSchema?.();
  const options = deps.now ? { now: deps.now } : {};
  let serialized: string;
  let newKeyId: string;
  let keyCount: number;
  let shed: string[] = [];
  if (current.kind === 'bootstrap') {
    newKeyId = await chooseNewKeyId(deps.catalog, undefined);
    const first = await createKeyset(deps.kms, current.kmsKeyId, { ...options, firstId: newKeyId });
    serialized = serializeKeyset(first);
    keyCount = first.keys.length;
  } else {
    newKeyId = await chooseNewKeyId(deps.catalog, current.keyset);
    const kept = withoutDestroyed(current.keyset, await destroyedKeyIds(deps.catalog));
    shed = kept.shed;
    const kek = await generateWrappedKek(deps.kms, current.keyset.kmsKeyId, newKeyId, options);
    // Two-phase: readers get the KEK now and may decrypt with it; it becomes primary only when promoted.
    const next = addKeyVersion(kept.keyset, kek, { makePrimary: deps.twoPhase !== true });
    serialized = serializeKeyset(next);
    keyCount = next.keys.length;
  }
  await deps.secrets.putSecretValue({
    secretId: event.SecretId,
    clientRequestToken: event.ClientRequestToken,
    string: serialized,
    versionStages: [AWSPENDING],
  });
  return {
    step,
    outcome: 'done',
    newKeyId,
    detail:
      `AWSPENDING (${event.ClientRequestToken}) holds ${keyCount} key(s), ${deps.twoPhase === true && current.kind !== 'bootstrap' ? `new decrypt-only key ${newKeyId}` : `new primary ${newKeyId}`}` +
      `${current.kind === 'bootstrap' ? ' (first keyset)' : ''}${shed.length > 0 ? `; destroyed ${shed.join(', ')} left out` : ''}`,
  };
}

/**
 * The keyset without the destroyed keys. The primary stays even if the
 * catalog says destroyed (the catalog forbids destroying an active key, so
 * that is a keyset adopted from elsewhere): removing it would leave the
 * keyset without a primary, and rekey refuses the key anyway.
 */
function withoutDestroyed(keyset: Keyset, destroyed: ReadonlySet<string>): { keyset: Keyset; shed: string[] } {
  const shed = keyset.keys.filter((k) => destroyed.has(k.id) && k.id !== keyset.primary).map((k) => k.id);
  return { keyset: shed.reduce(removeKey, keyset), shed };
}
