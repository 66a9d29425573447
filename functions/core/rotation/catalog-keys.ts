import type { Keyset } from '../crypto/keyrings/keyset';
import { nextKeyId } from '../crypto/keyrings/keyset-changes';
import type { KeyCatalog } from '../keys/catalog';
import type { CatalogKey } from '../keys/catalog-rows';
import { KeyAlreadyExistsError } from '../keys/errors';
import { DEFAULT_ROTATION_ACTOR, type RotationDeps } from './deps';
import { RotationStateError } from './errors';

const KEK_VERSION = /^kek-v([1-9][0-9]*)$/;

/**
 * The id of the next KEK: `kek-v{N+1}` above the keyset's highest, skipped
 * past any id the catalog already uses for something else. An id is never
 * given to new key material once a key by that name was active, rotated or
 * destroyed (a crypto-shredded kek-v3 must not come back as a different
 * kek-v3), nor when another keyring owns it. A `pending` hierarchical row is
 * an abandoned rotation's key that nothing ever encrypted under: its id is
 * reused rather than left pending for ever.
 */
export async function chooseNewKeyId(catalog: KeyCatalog, current: Keyset | undefined): Promise<string> {
  const taken = new Set((await catalog.list()).filter((k) => !reusable(k)).map((k) => k.id));
  let n = Number(KEK_VERSION.exec(current ? nextKeyId(current) : 'kek-v1')![1]);
  while (taken.has(`kek-v${n}`)) n += 1;
  return `kek-v${n}`;
}

/**
 * The hierarchical keys the catalog holds as destroyed. The keyset keeps
 * "every KEK not yet destroyed": createSecret leaves these out of the next
 * keyset, so crypto-shredding reaches the secret at the next rotation (and
 * the KEK's last copy goes when Secrets Manager drops the AWSPREVIOUS version
 * after it). rekey refuses them meanwhile, whatever the keyset holds.
 */
export async function destroyedKeyIds(catalog: KeyCatalog): Promise<ReadonlySet<string>> {
  return new Set(
    (await catalog.list())
      .filter((k) => k.status === 'destroyed' && k.keyring === 'hierarchical' && k.tenant === null)
      .map((k) => k.id),
  );
}

function reusable(key: CatalogKey): boolean {
  return key.status === 'pending' && key.keyring === 'hierarchical' && key.tenant === null;
}

/**
 * The catalog rows a keyset needs before its primary can be promoted: the
 * primary `pending` (or already `active`: a re-run after the promotion), and
 * every other key of the keyset known (a key the catalog never saw — a keyset
 * adopted from elsewhere — is registered `rotating`: it decrypts, and the
 * rewrap moves its rows). Idempotent. Returns the ids it added.
 */
export async function registerKeysetInCatalog(
  deps: RotationDeps,
  keyset: Keyset,
): Promise<{ readonly added: readonly string[] }> {
  const actor = deps.actor ?? DEFAULT_ROTATION_ACTOR;
  const added: string[] = [];
  // Two-phase: the new key is the newest, not (yet) the primary; it waits `pending` for its promotion.
  const incoming = deps.twoPhase === true ? newestKeyId(keyset) : keyset.primary;
  for (const key of keyset.keys) {
    const isPrimary = key.id === incoming;
    const known = await deps.catalog.get(key.id);
    if (known) {
      assertUsable(known, isPrimary);
      continue;
    }
    try {
      await deps.catalog.add(
        { id: key.id, keyring: 'hierarchical', kmsKeyArn: keyset.kmsKeyId, status: isPrimary ? 'pending' : 'rotating' },
        actor,
      );
    } catch (err) {
      // An overlapping invocation (a retry while the first still ran) registered it first: check its row as if found above.
      if (!(err instanceof KeyAlreadyExistsError)) throw err;
      assertUsable(await deps.catalog.require(key.id), isPrimary);
      continue;
    }
    added.push(key.id);
  }
  return { added };
}

function assertUsable(known: CatalogKey, isPrimary: boolean): void {
  if (known.keyring !== 'hierarchical' || known.tenant !== null) {
    throw new RotationStateError(
      `the catalog already holds ${known.id} as a ${known.keyring} key${known.tenant === null ? '' : ` of tenant ${known.tenant}`}: the keyset's ${known.id} is a different key`,
    );
  }
  if (isPrimary && known.status !== 'pending' && known.status !== 'active') {
    throw new RotationStateError(
      `the new key ${known.id} is ${known.status} in the catalog: a rotation cannot make it primary again`,
    );
  }
}

/** The keyset's most recently created key (the one a two-phase rotation added). */
export function newestKeyId(keyset: Keyset): string {
  return [...keyset.keys].sort(
    (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id.localeCompare(a.id, 'en', { numeric: true }),
  )[0]!.id;
}
