import { randomBytes } from 'node:crypto';
import type { KmsPort } from '../../ports/kms';
import {
  KEYSET_FORMAT,
  KEYSET_VERSION,
  KEY_ID_PATTERN,
  KeysetUpdateError,
  kekContext,
  type Keyset,
  type KeysetKey,
} from './keyset';

/**
 * Creating and changing keysets: a new KEK (the only calls to KMS), the next
 * key id, adding a version, promoting and removing a key. Each returns a new
 * keyset and never mutates its input.
 */
const KEK_ID_VERSION = /^kek-v([1-9][0-9]*)$/;

/** `kek-v{N+1}` where N is the highest `kek-vN` in the keyset (kek-v1 when there is none). */
export function nextKeyId(keyset: Keyset): string {
  let highest = 0;
  for (const key of keyset.keys) {
    const match = KEK_ID_VERSION.exec(key.id);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `kek-v${highest + 1}`;
}

/** The keyset with `key` appended (and made primary when asked). */
export function addKeyVersion(
  keyset: Keyset,
  key: { readonly id: string; readonly wrapped: Buffer; readonly createdAt?: string },
  options: { readonly makePrimary: boolean; readonly now?: () => Date },
): Keyset {
  if (keyset.keys.some((k) => k.id === key.id)) {
    throw new KeysetUpdateError(`key ${JSON.stringify(key.id)} is already in the keyset`);
  }
  if (!KEY_ID_PATTERN.test(key.id)) {
    throw new KeysetUpdateError(`key id ${JSON.stringify(key.id)} is not valid (expected ${KEY_ID_PATTERN.source})`);
  }
  const added: KeysetKey = {
    id: key.id,
    wrapped: key.wrapped,
    createdAt: key.createdAt ?? (options.now?.() ?? new Date()).toISOString(),
  };
  return { ...keyset, primary: options.makePrimary ? key.id : keyset.primary, keys: [...keyset.keys, added] };
}

/** The keyset with `keyId` as primary (promotion, or rollback to the previous key). */
export function setPrimary(keyset: Keyset, keyId: string): Keyset {
  if (!keyset.keys.some((k) => k.id === keyId)) {
    throw new KeysetUpdateError(`cannot make ${JSON.stringify(keyId)} primary: it is not in the keyset`);
  }
  return { ...keyset, primary: keyId };
}

/**
 * The keyset without `keyId`: the KEK is gone for good once no secret version
 * holds it, so only destroy a key after verify counts zero rows under it.
 */
export function removeKey(keyset: Keyset, keyId: string): Keyset {
  if (!keyset.keys.some((k) => k.id === keyId)) {
    throw new KeysetUpdateError(`cannot remove ${JSON.stringify(keyId)}: it is not in the keyset`);
  }
  if (keyset.primary === keyId) {
    throw new KeysetUpdateError(
      `cannot remove ${JSON.stringify(keyId)}: it is the primary key; make another key primary first`,
    );
  }
  return { ...keyset, keys: keyset.keys.filter((k) => k.id !== keyId) };
}

/**
 * A new random 256-bit KEK wrapped by KMS Encrypt under `kmsKeyId` with
 * kekContext(id). The plaintext is zeroed before this returns.
 */
export async function generateWrappedKek(
  kms: KmsPort,
  kmsKeyId: string,
  id: string,
  options: { readonly now?: () => Date } = {},
): Promise<KeysetKey> {
  if (!KEY_ID_PATTERN.test(id)) {
    throw new KeysetUpdateError(`key id ${JSON.stringify(id)} is not valid (expected ${KEY_ID_PATTERN.source})`);
  }
  const kek = randomBytes(32);
  try {
    const wrapped = await kms.encrypt({ keyId: kmsKeyId, plaintext: kek, context: kekContext(id) });
    return { id, wrapped, createdAt: (options.now?.() ?? new Date()).toISOString() };
  } finally {
    kek.fill(0);
  }
}

/** A keyset holding one fresh KEK (`firstId`, default kek-v1), primary. */
export async function createKeyset(
  kms: KmsPort,
  kmsKeyId: string,
  options: { readonly firstId?: string; readonly now?: () => Date } = {},
): Promise<Keyset> {
  const first = await generateWrappedKek(kms, kmsKeyId, options.firstId ?? 'kek-v1', options);
  return { format: KEYSET_FORMAT, version: KEYSET_VERSION, kmsKeyId, primary: first.id, keys: [first] };
}
