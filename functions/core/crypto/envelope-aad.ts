import type { EncryptionContext } from './context';
import { encodeContext } from './context-encoding';
import { assertKeyId } from './envelope';

/**
 * The authenticated data of envelope format v1 (docs/envelope-format.md): one
 * binding for the wrapped data key, one for the data ciphertext.
 */
// Domain-separation tags: a wrap AAD can never equal a data AAD.
const WRAP_AAD_TAG = 0x77; // 'w'
const DATA_AAD_TAG = 0x64; // 'd'

/**
 * Authenticated data for wrapping the data key: binds format version, key id
 * and encryption context. `'w' | version | u8 keyIdLength | keyId | context`.
 */
export function wrapAad(version: number, keyId: string, ctx: EncryptionContext): Buffer {
  return wrapAadFromEncoded(version, keyId, encodeContext(ctx));
}

/**
 * Authenticated data for the data ciphertext: binds format version and
 * encryption context, not the key id, so a rewrap (new key id, same
 * ciphertext) leaves it valid. `'d' | version | context`.
 */
export function dataAad(version: number, ctx: EncryptionContext): Buffer {
  return dataAadFromEncoded(version, encodeContext(ctx));
}

/** wrapAad over an already encoded context (EnvelopeCipher encodes once per call, uses it twice). */
export function wrapAadFromEncoded(version: number, keyId: string, encodedContext: Buffer): Buffer {
  assertKeyId(keyId);
  const out = Buffer.allocUnsafe(3 + keyId.length + encodedContext.length);
  out[0] = WRAP_AAD_TAG;
  out[1] = version;
  out[2] = keyId.length;
  out.write(keyId, 3, 'latin1');
  encodedContext.copy(out, 3 + keyId.length);
  return out;
}

export function dataAadFromEncoded(version: number, encodedContext: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + encodedContext.length);
  out[0] = DATA_AAD_TAG;
  out[1] = version;
  encodedContext.copy(out, 2);
  return out;
}
