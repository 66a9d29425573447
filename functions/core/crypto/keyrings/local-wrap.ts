import { KEY_BYTES, NONCE_BYTES, TAG_BYTES, open, sealInto, type AeadKey } from '../aead';
import { AuthenticationError, KeyMaterialError } from '../errors';
import { randomPool } from '../random-pool';

/**
 * The local data-key wrap shared by the keyrings that hold KEKs in memory
 * (hierarchical; the same bytes as the raw keyring's, which a test checks):
 *
 *   nonce (12) | AES-256-GCM(KEK, nonce, dataKey, aad) (32) | tag (16)
 *
 * `aad` is the envelope's wrap AAD (format version, key id, context), so a
 * wrapped key moved to another row or relabelled with another key id fails.
 */
export const LOCAL_WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES;

export function wrapLocal(kek: AeadKey, dataKey: Buffer, aad: Buffer): Buffer {
  if (dataKey.length !== KEY_BYTES)
    throw new KeyMaterialError(`a data key must be ${KEY_BYTES} bytes, got ${dataKey.length}`);
  const out = Buffer.allocUnsafe(LOCAL_WRAPPED_KEY_BYTES);
  randomPool.fill(out, 0, NONCE_BYTES);
  sealInto(kek, out.subarray(0, NONCE_BYTES), dataKey, aad, out, NONCE_BYTES);
  return out;
}

/** The data key; AuthenticationError('data-key') for a wrong length, KEK, aad or altered bytes. */
export function unwrapLocal(kek: AeadKey, wrapped: Buffer, aad: Buffer): Buffer {
  if (wrapped.length !== LOCAL_WRAPPED_KEY_BYTES) throw new AuthenticationError('data-key');
  return open(kek, wrapped.subarray(0, NONCE_BYTES), wrapped.subarray(NONCE_BYTES), aad, 'data-key');
}
