import type { KmsPort } from '../../ports/kms';
import { KEY_BYTES } from '../aead';
import { AuthenticationError, KeyMaterialError } from '../errors';
import { kekContext, type Keyset } from './keyset';

/** One KMS Decrypt per KEK of `keyset`, in parallel; on any failure every KEK already unwrapped is zeroed. */
export async function unwrapKeks(kms: KmsPort, keyset: Keyset, source: string): Promise<Map<string, Buffer>> {
  const results = await Promise.allSettled(
    keyset.keys.map(async (key) => {
      const plaintext = await kms.decrypt({
        ciphertextBlob: key.wrapped,
        keyId: keyset.kmsKeyId,
        context: kekContext(key.id),
      });
      // Our own memory, so zeroing it later cannot depend on how the port allocated it.
      const kek = Buffer.alloc(KEY_BYTES);
      const length = plaintext.length;
      plaintext.copy(kek);
      plaintext.fill(0);
      if (length !== KEY_BYTES) {
        kek.fill(0);
        throw new KeyMaterialError(
          `${source}: KEK ${JSON.stringify(key.id)} unwrapped to ${length} bytes; a KEK is ${KEY_BYTES}`,
        );
      }
      return [key.id, kek] as const;
    }),
  );
  const keks = new Map<string, Buffer>();
  let failure: unknown;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') keks.set(result.value[0], result.value[1]);
    else failure ??= explainUnwrapFailure(result.reason, keyset, keyset.keys[i]?.id ?? '?', source);
  });
  if (failure !== undefined) {
    for (const kek of keks.values()) kek.fill(0);
    throw failure;
  }
  return keks;
}

/** KMS refusing a KEK's ciphertext means the keyset entry is wrong, not a row: say which entry and why. */
function explainUnwrapFailure(err: unknown, keyset: Keyset, keyId: string, source: string): unknown {
  if (!(err instanceof AuthenticationError)) return err;
  return new KeyMaterialError(
    `${source}: KEK ${JSON.stringify(keyId)} did not unwrap under KMS key ${JSON.stringify(keyset.kmsKeyId)} ` +
      `with encryption context {purpose: "rekey-kek", keyId: ${JSON.stringify(keyId)}}: ` +
      'the entry was altered, copied from another id, or wrapped under another KMS key',
    { cause: err },
  );
}
