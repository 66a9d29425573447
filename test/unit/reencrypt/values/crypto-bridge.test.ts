import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import { KeyDestroyedError } from '../../../../functions/core/crypto/errors';
import { StaticKeyPolicy } from '../../../../functions/core/keys/policy';
import type { LegacyReader } from '../../../../functions/core/crypto/legacy/reader';
import {
  UNREADABLE_KEY_ID,
  classifyStoredValue,
  valueCryptoFrom,
} from '../../../../functions/core/reencrypt/values/crypto-bridge';

const reader = (format: LegacyReader['format'], prefix: string): LegacyReader => ({
  format,
  recognizes: (v) => String(v).startsWith(prefix),
  keyIdOf: () => (format === 'json-key-id' ? 'legacy-7' : undefined),
  decrypt: async () => Buffer.from('legacy plaintext'),
});

describe('value classification from headers', () => {
  const keyring = new RawKeyring([{ id: 'kek-v2', key: randomBytes(32) }]);
  const ctx = { table: 't', column: 'c', rowId: '1' };

  it('reads the key id of text and binary envelopes without decrypting', async () => {
    const cipher = await EnvelopeCipher.create({ keyring });
    expect(classifyStoredValue(await cipher.encrypt('x', ctx))).toEqual({ kind: 'envelope', keyId: 'kek-v2' });
    expect(classifyStoredValue(await cipher.encrypt(Buffer.from('x'), ctx))).toEqual({
      kind: 'envelope',
      keyId: 'kek-v2',
    });
    expect(classifyStoredValue(null)).toEqual({ kind: 'null' });
  });

  it('recognises legacy formats through the readers, in order, and falls back to plaintext', () => {
    const readers = [reader('plaintext', ''), reader('fernet', 'gAAAA'), reader('json-key-id', '{')];
    expect(classifyStoredValue('gAAAAABl...', readers)).toEqual({ kind: 'fernet' });
    expect(classifyStoredValue('{"key_id":"legacy-7"}', readers)).toEqual({ kind: 'json-key-id', keyId: 'legacy-7' });
    expect(classifyStoredValue('hello', readers)).toEqual({ kind: 'plaintext' });
    expect(classifyStoredValue('gAAAAABl...')).toEqual({ kind: 'plaintext' }); // no readers: not recognised
  });

  it('keeps a damaged envelope an envelope (so working on it records the error) rather than calling it plaintext', () => {
    const damaged = 'rk1:' + Buffer.from([1, 200, 1, 2, 3]).toString('base64url').padEnd(80, 'A');
    expect(classifyStoredValue(damaged)).toEqual({ kind: 'envelope', keyId: UNREADABLE_KEY_ID });
  });

  it('refuses legacy decryption without a reader for that format, with a typed error', async () => {
    const crypto = valueCryptoFrom({ cipher: await EnvelopeCipher.create({ keyring }) });
    await expect(crypto.decryptLegacy('gAAAA', 'fernet')).rejects.toMatchObject({
      code: 'LEGACY_FORMAT',
      message: expect.stringMatching(/ENCRYPTION_KEY/),
    });
    const withReader = valueCryptoFrom({
      cipher: await EnvelopeCipher.create({ keyring }),
      legacyReaders: [reader('fernet', 'gAAAA')],
    });
    expect((await withReader.decryptLegacy('gAAAA', 'fernet')).toString()).toBe('legacy plaintext');
  });

  it('a JSON key_id value under a key the catalog destroyed is refused before its reader runs', async () => {
    const policy = new StaticKeyPolicy([
      { id: 'kek-v2', status: 'active' },
      { id: 'legacy-7', status: 'destroyed' },
    ]);
    const json = { ...reader('json-key-id', '{'), decrypt: jest.fn(async () => Buffer.from('legacy plaintext')) };
    const crypto = valueCryptoFrom({ cipher: new EnvelopeCipher({ keyring, policy }), legacyReaders: [json] });
    await expect(crypto.decryptLegacy('{"key_id":"legacy-7"}', 'json-key-id')).rejects.toBeInstanceOf(
      KeyDestroyedError,
    );
    expect(json.decrypt).not.toHaveBeenCalled();
    // Not in the catalog at all: the reader decides (legacy ids predate the catalog).
    const unlisted = valueCryptoFrom({ cipher: await EnvelopeCipher.create({ keyring }), legacyReaders: [json] });
    expect((await unlisted.decryptLegacy('{"key_id":"legacy-7"}', 'json-key-id')).toString()).toBe('legacy plaintext');
  });
});
