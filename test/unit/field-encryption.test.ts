import { randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  EnvelopeFormatError,
  PlaintextEncodingError,
  RawKeyring,
  UnsupportedVersionError,
  createFieldEncryption,
  formatRawKey,
  type LegacyReader,
} from '../../functions/core';

const v1 = formatRawKey('kek-v1', randomBytes(32));
const v2 = formatRawKey('kek-v2', randomBytes(32));
const where = { table: 'users', column: 'email', rowId: '42' };

/** A stand-in for the legacy readers (Fernet etc.): recognizes `legacy:<key>:<text>` and "decrypts" to <text>. */
const fakeReader: LegacyReader & { calls: number } = {
  format: 'json-key-id',
  calls: 0,
  recognizes: (value) => String(value).startsWith('legacy:'),
  keyIdOf: (value) => String(value).split(':')[1],
  async decrypt(value) {
    this.calls++;
    return Buffer.from(String(value).split(':').slice(2).join(':'), 'utf8');
  },
};

describe('field encryption (the application API)', () => {
  it('encryptField gives a text envelope that decryptField reads back', async () => {
    const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }) });
    const stored = await rekey.encryptField('s3cret', where);
    expect(stored).toMatch(/^rk1:/);
    expect(await rekey.decryptField(stored, where)).toBe('s3cret');
    expect(await rekey.decryptField(await rekey.encryptField('', where), where)).toBe(''); // an empty string is a value
  });

  it('bytes: encryptFieldBytes gives a binary envelope; decryptFieldBytes reads either form', async () => {
    const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }) });
    const bin = await rekey.encryptFieldBytes(Buffer.from([0xff, 0x00]), where);
    expect(Buffer.isBuffer(bin)).toBe(true);
    expect([...(await rekey.decryptFieldBytes(bin, where))]).toEqual([0xff, 0x00]);
    await expect(rekey.decryptField(bin, where)).rejects.toThrow(PlaintextEncodingError);
  });

  it('keeps reading old values after a rotation, and says which need rotating', async () => {
    const before = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }) });
    const old = await before.encryptField('s3cret', where);
    const after = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v2, SECRETS_ENCRYPTION_KEY_PREVIOUS: v1 }) });
    expect(await after.decryptField(old, where)).toBe('s3cret');
    expect(after.kindOf(old)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
    expect(after.needsRotation(old)).toBe(true);
    expect(after.needsRotation(await after.encryptField('x', where))).toBe(false);
  });

  it('a value copied to another row does not decrypt', async () => {
    const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }) });
    const stored = await rekey.encryptField('s3cret', where);
    await expect(rekey.decryptField(stored, { ...where, rowId: '43' })).rejects.toThrow(AuthenticationError);
  });

  describe('legacy reader seam', () => {
    it('tries the envelope first, then the readers that recognize the value', async () => {
      const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }), legacyReaders: [fakeReader] });
      const stored = await rekey.encryptField('new', where);
      fakeReader.calls = 0;
      expect(await rekey.decryptField(stored, where)).toBe('new');
      expect(fakeReader.calls).toBe(0);
      expect(await rekey.decryptField('legacy:k1:old value', where)).toBe('old value');
      expect(fakeReader.calls).toBe(1);
      expect(rekey.kindOf('legacy:k1:old')).toEqual({ kind: 'legacy', format: 'json-key-id', keyId: 'k1' });
      expect(rekey.needsRotation('legacy:k1:old')).toBe(true);
    });

    it('a damaged rk1: value fails as an envelope, never falls through to a reader', async () => {
      const catchAll: LegacyReader = { ...fakeReader, format: 'plaintext', recognizes: () => true };
      const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }), legacyReaders: [catchAll] });
      const stored = await rekey.encryptField('new', where);
      await expect(rekey.decryptField(stored.slice(0, 30), where)).rejects.toThrow(EnvelopeFormatError);
      await expect(rekey.decryptField('rk2:AAAA', where)).rejects.toThrow(UnsupportedVersionError);
    });

    it('without a reader that recognizes it, a non-envelope fails with the envelope error', async () => {
      const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }), legacyReaders: [fakeReader] });
      await expect(rekey.decryptField('gAAAAABfernet-ish', where)).rejects.toMatchObject({ reason: 'bad-prefix' });
      expect(() => rekey.kindOf('plain text')).toThrow(EnvelopeFormatError);
    });
  });
});
