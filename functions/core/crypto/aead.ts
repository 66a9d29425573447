import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { AuthenticationError, KeyMaterialError } from './errors';

/**
 * AES-256-GCM with 96-bit nonces and 128-bit tags: the one AEAD rekey uses,
 * both for data (under a per-value data key) and for wrapping data keys under
 * key-encryption keys (local keyrings).
 *
 * Sealed form is `ciphertext | tag`. Callers choose the nonce (normally from
 * the random pool) so it can be written straight into the envelope buffer.
 *
 * Keys are a Buffer (data keys: the caller zeroes them after use) or a
 * KeyObject (KEKs held for the life of the process).
 */
export const AEAD_ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export type AeadKey = Buffer | KeyObject;

// authTagLength pins the tag at 16 bytes, so a decipher can never be handed a
// shortened tag; measured cost-neutral (docs/performance.md). One shared object.
const GCM_OPTIONS = { authTagLength: TAG_BYTES } as const;

/**
 * Encrypts `plaintext` and writes `ciphertext | tag` into `out` at `offset`
 * (which must have `plaintext.length + TAG_BYTES` bytes of room). Writing in
 * place spares the Buffer.concat an envelope would otherwise need.
 */
export function sealInto(
  key: AeadKey,
  nonce: Buffer,
  plaintext: Buffer,
  aad: Buffer,
  out: Buffer,
  offset: number,
): void {
  assertKey(key);
  if (nonce.length !== NONCE_BYTES)
    throw new RangeError(`an AES-GCM nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`);
  const cipher = createCipheriv(AEAD_ALGORITHM, key, nonce, GCM_OPTIONS);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  body.copy(out, offset);
  cipher.final(); // GCM emits no trailing block
  cipher.getAuthTag().copy(out, offset + body.length);
}

/** `ciphertext | tag` of `plaintext` as a new buffer. */
export function seal(key: AeadKey, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + TAG_BYTES);
  sealInto(key, nonce, plaintext, aad, out, 0);
  return out;
}

/**
 * The plaintext of `sealed` (`ciphertext | tag`). Throws AuthenticationError
 * naming `part` when the tag does not verify; the unauthenticated output GCM
 * produces before the tag check is zeroed, never returned.
 */
export function open(
  key: AeadKey,
  nonce: Buffer,
  sealed: Buffer,
  aad: Buffer,
  part: 'data-key' | 'ciphertext',
): Buffer {
  assertKey(key);
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) throw new AuthenticationError(part);
  const decipher = createDecipheriv(AEAD_ALGORITHM, key, nonce, GCM_OPTIONS);
  const tagAt = sealed.length - TAG_BYTES;
  decipher.setAuthTag(sealed.subarray(tagAt));
  decipher.setAAD(aad);
  const plaintext = decipher.update(sealed.subarray(0, tagAt));
  try {
    decipher.final();
  } catch (err) {
    plaintext.fill(0);
    throw new AuthenticationError(part, { cause: err });
  }
  return plaintext;
}

function assertKey(key: AeadKey): void {
  const length = Buffer.isBuffer(key) ? key.length : key.symmetricKeySize;
  if (length !== KEY_BYTES) {
    throw new KeyMaterialError(`an AES-256-GCM key must be ${KEY_BYTES} bytes, got ${length ?? 'a non-secret key'}`);
  }
}
