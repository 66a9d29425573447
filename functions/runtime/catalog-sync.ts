import type { Keyring } from '../core/crypto/keyring';
import { KmsKeyring } from '../core/crypto/keyrings/kms';
import { KeyCatalog } from '../core/keys/catalog';
import { CatalogError } from '../core/keys/errors';

export class KeyringCatalogMismatchError extends CatalogError {
  readonly code = 'KEYRING_CATALOG_MISMATCH';
}

export interface SyncResult {
  /** What changed, for the start-up lines: `registered kek-v2 (active)`, `kek-v1 now rotating`. */
  readonly changes: readonly string[];
}

/**
 * Brings the catalog in line with the keyring the process was started with —
 * the runbook's "deploy the new key as primary, keep the old one as previous":
 * - a keyring key the catalog does not know is registered (the primary as
 *   active — the previous active key becomes `rotating` — others as `rotating`);
 * - a keyring primary the catalog holds as pending is activated;
 * - a keyring primary the catalog holds as rotating, retired or destroyed is
 *   an error that says what to run: rekey never silently undoes a rotation.
 * Global scope only; tenant keys are managed with `rekey keys`.
 */
export async function syncKeyringWithCatalog(catalog: KeyCatalog, keyring: Keyring, actor: string): Promise<SyncResult> {
  const ids = await keyring.keyIds();
  const primary = await keyring.primaryKeyId();
  const known = new Map((await catalog.list()).map((k) => [k.id, k]));
  const changes: string[] = [];
  for (const id of ids) {
    if (id === primary || known.has(id)) continue;
    await catalog.add({ id, keyring: keyring.kind, kmsKeyArn: kmsKeyOf(keyring, id), status: 'rotating' }, actor);
    changes.push(`registered ${id} (rotating: decrypt only)`);
  }
  const current = known.get(primary);
  if (!current) {
    await catalog.add({ id: primary, keyring: keyring.kind, kmsKeyArn: kmsKeyOf(keyring, primary) }, actor);
    const previous = await catalog.active(null);
    await catalog.activate(primary, actor);
    changes.push(`registered ${primary} (active)${previous ? `; ${previous.id} now rotating` : ''}`);
  } else if (current.status === 'pending') {
    const previous = await catalog.active(current.tenant);
    await catalog.activate(primary, actor);
    changes.push(`activated ${primary}${previous ? `; ${previous.id} now rotating` : ''}`);
  } else if (current.status !== 'active') {
    const active = await catalog.active(null);
    throw new KeyringCatalogMismatchError(
      `the keyring's primary key ${primary} is ${current.status} in the catalog` +
        (active ? ` (the active key is ${active.id})` : '') +
        (current.status === 'destroyed'
          ? ': it can never encrypt again — set SECRETS_ENCRYPTION_KEY to a new key'
          : `: to go back to it run \`rekey keys rollback --to ${primary}\`, or set the primary key to ${active?.id ?? 'the active key'}`),
    );
  }
  return { changes };
}

/** The KMS key behind a kms keyring's id: the catalog records it (and refuses a kms key without it). */
function kmsKeyOf(keyring: Keyring, id: string): string | undefined {
  return keyring instanceof KmsKeyring ? keyring.kmsKeyIdOf(id) : undefined;
}
