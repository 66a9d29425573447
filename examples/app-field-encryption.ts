/**
 * What an application does with rekey: encrypt a field before it is stored,
 * decrypt it after it is read, keep working through a key rotation.
 *
 *   npx tsx examples/app-field-encryption.ts
 *
 * It makes throwaway keys itself. In a real deployment the keys come from the
 * environment (SECRETS_ENCRYPTION_KEY=kek-v2:<base64>, ..._PREVIOUS=kek-v1:<base64>)
 * or from the hierarchical/KMS keyrings; generate one with
 *   node -e "console.log('kek-v1:' + require('crypto').randomBytes(32).toString('base64'))"
 */
import { randomBytes } from 'node:crypto';
import { AuthenticationError, RawKeyring, createFieldEncryption, formatRawKey } from '../functions/core';

async function main(): Promise<void> {
  // 1. Day one: one key-encryption key.
  const v1 = formatRawKey('kek-v1', randomBytes(32));
  const app = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }) });

  // The context says where the value lives; it must be the same when reading.
  const where = { table: 'users', column: 'email', rowId: '42' };
  const stored = await app.encryptField('alice@example.com', where);
  console.log('stored in users.email:', stored.slice(0, 24) + '…', `(${stored.length} chars)`, app.kindOf(stored));
  console.log('read back:', await app.decryptField(stored, where));

  // A value copied onto another row does not decrypt.
  try {
    await app.decryptField(stored, { ...where, rowId: '43' });
  } catch (err) {
    console.log('copied to row 43:', err instanceof AuthenticationError ? `${err.name} (${err.code})` : err);
  }

  // 2. Rotation: kek-v2 becomes primary, kek-v1 stays for reading old values.
  const v2 = formatRawKey('kek-v2', randomBytes(32));
  const rotated = await createFieldEncryption({
    keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v2, SECRETS_ENCRYPTION_KEY_PREVIOUS: v1 }),
  });
  console.log('old value still reads:', await rotated.decryptField(stored, where));
  console.log('old value needs rotation:', rotated.needsRotation(stored));

  // The re-encryption engine (rekey reencrypt --mode rewrap) does this for every row;
  // one value by hand: the data key is re-wrapped, the ciphertext stays.
  const rewrapped = await rotated.cipher.rewrap(stored, where);
  console.log('after rewrap:', rotated.kindOf(rewrapped), 'needs rotation:', rotated.needsRotation(rewrapped));

  // bytea columns take the binary form.
  const bytes = await rotated.encryptFieldBytes(Buffer.from([0xde, 0xad, 0xbe, 0xef]), {
    table: 'users',
    column: 'avatar_key',
    rowId: '42',
  });
  console.log('binary envelope:', bytes.length, 'bytes');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
