import type { Keyset } from '../crypto/keyrings/keyset';
import { RotationSelfTestError } from './errors';
import type { CurrentKeyset } from './keyset-versions';

/**
 * The structural half of "no key lost", without any KMS call: the pending
 * keyset wraps under the same KMS key, holds every key of AWSCURRENT with the
 * very same wrapped bytes (so the same KEK, not just the same name), and adds
 * a primary AWSCURRENT does not have. The one exception is `destroyed`: keys
 * the catalog holds as destroyed, which createSecret leaves out on purpose.
 * testSecret runs it before its round trips and finishSecret again right
 * before it promotes.
 */
export function assertKeepsEveryKey(
  current: CurrentKeyset,
  pending: Keyset,
  where: string,
  destroyed: ReadonlySet<string> = new Set(),
  /** Two-phase rotation: the primary stays AWSCURRENT's and exactly one new, decrypt-only key is added. */
  twoPhase = false,
): void {
  const problems: string[] = [];
  const currentKmsKeyId = current.kind === 'keyset' ? current.keyset.kmsKeyId : current.kmsKeyId;
  if (pending.kmsKeyId !== currentKmsKeyId)
    problems.push(`it wraps its KEKs under KMS key ${pending.kmsKeyId}, AWSCURRENT under ${currentKmsKeyId}`);
  const currentKeys = current.kind === 'keyset' ? current.keyset.keys : [];
  const pendingById = new Map(pending.keys.map((k) => [k.id, k]));
  const lost = currentKeys.filter((k) => !pendingById.has(k.id) && !destroyed.has(k.id)).map((k) => k.id);
  if (lost.length > 0) problems.push(`it would lose ${lost.join(', ')}`);
  const changed = currentKeys
    .filter((k) => pendingById.has(k.id) && !pendingById.get(k.id)!.wrapped.equals(k.wrapped))
    .map((k) => k.id);
  if (changed.length > 0) problems.push(`it holds different key material for ${changed.join(', ')}`);
  const added = pending.keys.filter((k) => !currentKeys.some((c) => c.id === k.id)).map((k) => k.id);
  if (twoPhase && current.kind === 'keyset') {
    if (current.keyset.primary !== pending.primary)
      problems.push(
        `its primary ${pending.primary} is not AWSCURRENT's ${current.keyset.primary} (a two-phase rotation promotes later)`,
      );
    if (added.length !== 1)
      problems.push(
        `it adds ${added.length} keys (${added.join(', ') || 'none'}); a two-phase rotation adds exactly one`,
      );
  } else if (currentKeys.some((k) => k.id === pending.primary))
    problems.push(`its primary ${pending.primary} is not a new key`);
  if (problems.length > 0)
    throw new RotationSelfTestError(`${where}: the pending keyset cannot replace AWSCURRENT: ${problems.join('; ')}`);
}
