import { randomBytes } from 'node:crypto';
import { jsonKeyIdEncrypt } from '../../functions/core/crypto/legacy/json-key-id';
import {
  AuthenticationError,
  EnvelopeFormatError,
  FernetReader,
  JsonKeyIdReader,
  KeyDestroyedError,
  OversizeError,
  PlaintextReader,
  StaticKeyPolicy,
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
    const after = await createFieldEncryption({
      keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v2, SECRETS_ENCRYPTION_KEY_PREVIOUS: v1 }),
    });
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
      const rekey = await createFieldEncryption({
        keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }),
        legacyReaders: [fakeReader],
      });
      const stored = await rekey.encryptField('new', where);
      fakeReader.calls = 0;
      expect(await rekey.decryptField(stored, where)).toBe('new');
      expect(fakeReader.calls).toBe(0);
      expect(await rekey.decryptField('legacy:kek-v1:old value', where)).toBe('old value');
      expect(fakeReader.calls).toBe(1);
      expect(rekey.kindOf('legacy:kek-v1:old')).toEqual({ kind: 'legacy', format: 'json-key-id', keyId: 'kek-v1' });
      expect(rekey.needsRotation('legacy:kek-v1:old')).toBe(true);
    });

    it('a damaged rk1: value fails as an envelope, never falls through to a reader', async () => {
      const catchAll: LegacyReader = { ...fakeReader, format: 'plaintext', recognizes: () => true };
      const rekey = await createFieldEncryption({
        keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }),
        legacyReaders: [catchAll],
      });
      const stored = await rekey.encryptField('new', where);
      await expect(rekey.decryptField(stored.slice(0, 30), where)).rejects.toThrow(EnvelopeFormatError);
      await expect(rekey.decryptField('rk2:AAAA', where)).rejects.toThrow(UnsupportedVersionError);
    });

    it('without a reader that recognizes it, a non-envelope fails with the envelope error', async () => {
      const rekey = await createFieldEncryption({
        keyring: RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: v1 }),
        legacyReaders: [fakeReader],
      });
      await expect(rekey.decryptField('gAAAAABfernet-ish', where)).rejects.toMatchObject({ reason: 'bad-prefix' });
      expect(() => rekey.kindOf('plain text')).toThrow(EnvelopeFormatError);
    });
  });

  describe('legacy values obey the same rules as envelopes', () => {
    const kek1 = randomBytes(32);
    const keyring = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: v2,
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', kek1),
    });
    const readers = (): LegacyReader[] => [
      FernetReader.fromKeys([randomBytes(32).toString('base64url')]),
      new JsonKeyIdReader((id) => keyring.kekFor(id)),
      new PlaintextReader(),
    ];

    it('a JSON key_id value under a key the catalog destroyed does not decrypt', async () => {
      const policy = new StaticKeyPolicy([
        { id: 'kek-v2', status: 'active' },
        { id: 'kek-v1', status: 'destroyed' },
      ]);
      const rekey = await createFieldEncryption({ keyring, policy, legacyReaders: readers() });
      const stored = jsonKeyIdEncrypt(kek1, 'kek-v1', 'legacy-secret');
      const err = await rekey.decryptField(stored, where).catch((e: Error) => e);
      expect(err).toBeInstanceOf(KeyDestroyedError);
      expect(String((err as Error).message)).not.toContain('legacy-secret');
      // Retired, it still reads.
      const retired = await createFieldEncryption({ keyring, legacyReaders: readers() });
      expect(await retired.decryptField(stored, where)).toBe('legacy-secret');
    });

    it.each([
      ['null', null],
      ['a number', 123],
      ['an object', {}],
      ['undefined', undefined],
    ])('%s is an EnvelopeFormatError, not a crash, with readers configured', async (_name, value) => {
      const rekey = await createFieldEncryption({ keyring, legacyReaders: readers() });
      await expect(rekey.decryptField(value as never, where)).rejects.toMatchObject({
        name: 'EnvelopeFormatError',
        reason: 'bad-type',
      });
      expect(() => rekey.kindOf(value as never)).toThrow(EnvelopeFormatError);
      expect(() => rekey.needsRotation(value as never)).toThrow(EnvelopeFormatError);
    });

    it('a plain Uint8Array is read like a Buffer', async () => {
      const rekey = await createFieldEncryption({ keyring, legacyReaders: readers() });
      const bin = await rekey.encryptFieldBytes('bytes', where);
      expect(await rekey.decryptField(new Uint8Array(bin), where)).toBe('bytes');
      expect(await rekey.decryptField(new TextEncoder().encode('clear text'), where)).toBe('clear text');
    });

    it('legacy values are held to the size limit (maxPlaintextBytes)', async () => {
      const rekey = await createFieldEncryption({ keyring, legacyReaders: readers(), maxPlaintextBytes: 1024 });
      await expect(rekey.decryptField('x'.repeat(1025), where)).rejects.toBeInstanceOf(OversizeError);
      await expect(rekey.decryptField('x'.repeat(100_000), where)).rejects.toBeInstanceOf(OversizeError);
      await expect(
        rekey.decryptField(jsonKeyIdEncrypt(kek1, 'kek-v1', 'z'.repeat(5000)), where),
      ).rejects.toBeInstanceOf(OversizeError);
      expect(await rekey.decryptField('x'.repeat(1024), where)).toBe('x'.repeat(1024));
    });

    it('a JSON key_id value of several megabytes decrypts (base64 checked without a backtracking regex)', async () => {
      const rekey = await createFieldEncryption({ keyring, legacyReaders: readers() });
      const big = 'z'.repeat(4_000_000);
      expect((await rekey.decryptField(jsonKeyIdEncrypt(kek1, 'kek-v1', big), where)).length).toBe(big.length);
    });
  });
});
