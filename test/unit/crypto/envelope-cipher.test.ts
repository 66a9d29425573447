import { EnvelopeCipher, DEFAULT_MAX_PLAINTEXT_BYTES } from '../../../functions/core/crypto/envelope-cipher';
import { parseEnvelope, peekKeyId } from '../../../functions/core/crypto/envelope';
import {
  KeyScopeError,
  AuthenticationError,
  EnvelopeFormatError,
  InvalidContextError,
  InvalidPlaintextError,
  KeyDestroyedError,
  KeyNotActiveError,
  OversizeError,
  UnknownKeyError,
} from '../../../functions/core/crypto/errors';
import { StaticKeyPolicy } from '../../../functions/core/crypto/key-policy';
import { RecordingKeyring, cipher, rawKeyring } from './support';

const ctx = { table: 'users', column: 'email', rowId: '42' };

describe('EnvelopeCipher', () => {
  const c = cipher();

  it('round-trips text → text envelope and Buffer → binary envelope', async () => {
    const text = await c.encrypt('s3cret', ctx);
    expect(text).toMatch(/^rk1:[A-Za-z0-9_-]+$/);
    expect((await c.decrypt(text, ctx)).toString()).toBe('s3cret');
    const binary = await c.encrypt(Buffer.from([0, 1, 2, 255]), ctx);
    expect(Buffer.isBuffer(binary)).toBe(true);
    expect(binary[0]).toBe(1);
    expect([...(await c.decrypt(binary, ctx))]).toEqual([0, 1, 2, 255]);
  });

  it('output overrides the form', async () => {
    expect(Buffer.isBuffer(await c.encrypt('x', ctx, { output: 'binary' }))).toBe(true);
    expect(typeof (await c.encrypt(Buffer.from('x'), ctx, { output: 'text' }))).toBe('string');
  });

  it('an empty plaintext is a value: encrypts and decrypts to empty', async () => {
    const e = await c.encrypt('', ctx);
    expect((await c.decrypt(e, ctx)).length).toBe(0);
  });

  it('a Uint8Array plaintext is accepted and left untouched', async () => {
    const input = new Uint8Array([9, 8, 7]);
    const e = await c.encrypt(input as Buffer, ctx);
    expect([...input]).toEqual([9, 8, 7]);
    expect([...(await c.decrypt(e, ctx))]).toEqual([9, 8, 7]);
  });

  it('every encryption is fresh: same plaintext, different envelope (data key and nonce)', async () => {
    const a = parseEnvelope(await c.encrypt('same', ctx));
    const b = parseEnvelope(await c.encrypt('same', ctx));
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
    expect(a.sealed.equals(b.sealed)).toBe(false);
  });

  describe('key policy', () => {
    it("encrypts under the active key by default, or the tenant's own active key", async () => {
      expect(peekKeyId(await c.encrypt('x', ctx))).toBe('kek-v2');
      const tenantPolicy = new StaticKeyPolicy([
        { id: 'kek-v2', status: 'active' },
        { id: 'kek-v3', status: 'active', tenant: 'acme' },
      ]);
      const t = new EnvelopeCipher({ keyring: rawKeyring(), policy: tenantPolicy });
      expect(peekKeyId(await t.encrypt('x', { ...ctx, tenant: 'acme' }))).toBe('kek-v3');
      expect(peekKeyId(await t.encrypt('x', { ...ctx, tenant: 'other' }))).toBe('kek-v2');
    });

    it("a tenant's key encrypts only that tenant's values (encrypt, rewrap, reencrypt)", async () => {
      const t = new EnvelopeCipher({
        keyring: rawKeyring(),
        policy: new StaticKeyPolicy([
          { id: 'kek-v2', status: 'active' },
          { id: 'kek-v3', status: 'active', tenant: 'acme' },
        ]),
      });
      const globex = { ...ctx, tenant: 'globex' };
      await expect(t.encrypt('x', globex, { keyId: 'kek-v3' })).rejects.toThrow(KeyScopeError);
      await expect(t.encrypt('x', ctx, { keyId: 'kek-v3' })).rejects.toThrow(
        /belongs to tenant "acme": a value of the global scope/,
      );
      const stored = await t.encrypt('x', globex);
      await expect(t.rewrap(stored, globex, 'kek-v3')).rejects.toThrow(KeyScopeError);
      await expect(t.reencrypt(stored, globex, 'kek-v3')).rejects.toThrow(KeyScopeError);
      // The global key encrypts a tenant without its own key, never one with it.
      expect(peekKeyId(await t.encrypt('x', globex, { keyId: 'kek-v2' }))).toBe('kek-v2');
      await expect(t.encrypt('x', { ...ctx, tenant: 'acme' }, { keyId: 'kek-v2' })).rejects.toThrow(
        /tenant "acme" has its own active key "kek-v3"/,
      );
      await expect(t.rewrap(stored, { ...ctx, tenant: 'acme' }, 'kek-v2')).rejects.toThrow(KeyScopeError);
    });

    it('refuses to encrypt under a retired, pending or destroyed key, or an unknown one', async () => {
      await expect(c.encrypt('x', ctx, { keyId: 'kek-v1' })).rejects.toThrow(KeyNotActiveError);
      await expect(c.encrypt('x', ctx, { keyId: 'kek-v3' })).rejects.toThrow(KeyNotActiveError);
      await expect(cipher({ 'kek-v1': 'destroyed' }).encrypt('x', ctx, { keyId: 'kek-v1' })).rejects.toThrow(
        KeyDestroyedError,
      );
      await expect(c.encrypt('x', ctx, { keyId: 'kek-v9' })).rejects.toThrow(UnknownKeyError);
    });

    it('a retired key still decrypts; a destroyed key never does, though the keyring still holds it', async () => {
      const old = await cipher({ 'kek-v1': 'active', 'kek-v2': 'pending' }).encrypt('s3cret', ctx);
      expect((await cipher({ 'kek-v1': 'retired' }).decrypt(old, ctx)).toString()).toBe('s3cret');
      await expect(cipher({ 'kek-v1': 'destroyed' }).decrypt(old, ctx)).rejects.toThrow(KeyDestroyedError);
    });

    it('checks the policy before asking the keyring to unwrap', async () => {
      const recording = new RecordingKeyring();
      const old = await cipher({ 'kek-v1': 'active', 'kek-v2': 'pending' }).encrypt('s3cret', ctx);
      await expect(cipher({ 'kek-v1': 'destroyed' }, recording).decrypt(old, ctx)).rejects.toThrow(KeyDestroyedError);
      expect(recording.dataKeys).toHaveLength(0);
    });

    it('create() without a policy: primary active, the rest decrypt-only', async () => {
      const derived = await EnvelopeCipher.create({ keyring: rawKeyring() }); // primary kek-v1 (first given)
      const e = await derived.encrypt('x', ctx);
      expect(peekKeyId(e)).toBe('kek-v1');
      await expect(derived.encrypt('x', ctx, { keyId: 'kek-v2' })).rejects.toThrow(KeyNotActiveError);
      const other = await cipher().encrypt('y', ctx);
      expect((await derived.decrypt(other, ctx)).toString()).toBe('y');
    });
  });

  describe('rewrap', () => {
    it('re-wraps the data key under the target and keeps nonce and ciphertext', async () => {
      const old = await cipher({ 'kek-v1': 'active', 'kek-v2': 'pending' }).encrypt('s3cret', ctx);
      const rewrapped = await c.rewrap(old, ctx);
      const [a, b] = [parseEnvelope(old), parseEnvelope(rewrapped)];
      expect(b.keyId).toBe('kek-v2');
      expect(b.nonce.equals(a.nonce)).toBe(true);
      expect(b.sealed.equals(a.sealed)).toBe(true);
      expect(b.wrappedKey.equals(a.wrappedKey)).toBe(false);
      expect((await c.decrypt(rewrapped, ctx)).toString()).toBe('s3cret');
    });

    it('keeps the form: binary in, binary out', async () => {
      const bin = await c.encrypt(Buffer.from('b'), ctx);
      expect(Buffer.isBuffer(await c.rewrap(bin, ctx, 'kek-v2'))).toBe(true);
    });

    it('refuses a target that may not encrypt, and a destroyed source', async () => {
      const e = await c.encrypt('x', ctx);
      await expect(c.rewrap(e, ctx, 'kek-v1')).rejects.toThrow(KeyNotActiveError);
      await expect(cipher({ 'kek-v2': 'destroyed', 'kek-v3': 'active' }).rewrap(e, ctx, 'kek-v3')).rejects.toThrow(
        KeyDestroyedError,
      );
    });

    it("refuses another row's envelope (the wrap is bound to the context)", async () => {
      const e = await c.encrypt('x', ctx);
      await expect(c.rewrap(e, { ...ctx, rowId: '43' })).rejects.toMatchObject({ part: 'data-key' });
    });
  });

  describe('reencrypt', () => {
    it('makes a new data key, nonce and ciphertext under the target', async () => {
      const e = await c.encrypt('s3cret', ctx);
      const r = await cipher({ 'kek-v2': 'retired', 'kek-v3': 'active' }).reencrypt(e, ctx);
      const [a, b] = [parseEnvelope(e), parseEnvelope(r)];
      expect(b.keyId).toBe('kek-v3');
      expect(b.nonce.equals(a.nonce)).toBe(false);
      expect(b.sealed.equals(a.sealed)).toBe(false);
      expect((await cipher({ 'kek-v3': 'active' }).decrypt(r, ctx)).toString()).toBe('s3cret');
    });

    it('refuses a tampered ciphertext (unlike rewrap, it reads the data)', async () => {
      const e = Buffer.from((await c.encrypt(Buffer.from('s3cret'), ctx)) as Buffer);
      e[e.length - 1] = e[e.length - 1]! ^ 1;
      await expect(c.reencrypt(e, ctx)).rejects.toMatchObject({ part: 'ciphertext' });
    });
  });

  describe('data keys are zeroed after use, on every path', () => {
    it('encrypt and decrypt', async () => {
      const rec = new RecordingKeyring();
      const rc = cipher({}, rec);
      const e = await rc.encrypt('s3cret', ctx);
      await rc.decrypt(e, ctx);
      expect(rec.dataKeys).toHaveLength(2);
      expect(rec.allZero()).toBe(true);
    });

    it('decrypt of a tampered ciphertext', async () => {
      const rec = new RecordingKeyring();
      const rc = cipher({}, rec);
      const e = Buffer.from((await rc.encrypt(Buffer.from('s3cret'), ctx)) as Buffer);
      e[e.length - 20] = e[e.length - 20]! ^ 1;
      await expect(rc.decrypt(e, ctx)).rejects.toThrow(AuthenticationError);
      expect(rec.dataKeys).toHaveLength(2);
      expect(rec.allZero()).toBe(true);
    });

    it('encrypt that fails after the data key was made', async () => {
      // A keyring whose wrapped key cannot go in the header: the data key exists, the layout refuses.
      const inner = rawKeyring();
      const broken = Object.assign(Object.create(inner) as typeof inner, {
        generateDataKey: async (id: string, wc: Parameters<typeof inner.generateDataKey>[1]) => ({
          ...(await inner.generateDataKey(id, wc)),
          wrapped: Buffer.alloc(0),
        }),
      });
      const rec = new RecordingKeyring(broken);
      await expect(cipher({}, rec).encrypt('s3cret', ctx)).rejects.toThrow(EnvelopeFormatError);
      expect(rec.dataKeys).toHaveLength(1);
      expect(rec.allZero()).toBe(true);
    });

    it('reencrypt zeroes the intermediate plaintext and both data keys', async () => {
      const rec = new RecordingKeyring();
      const rc = cipher({}, rec);
      const e = await rc.encrypt('s3cret', ctx);
      await rc.reencrypt(e, ctx);
      expect(rec.dataKeys).toHaveLength(3);
      expect(rec.allZero()).toBe(true);
    });
  });

  describe('limits and bad input', () => {
    it('has a documented 4 MiB default limit', () => {
      expect(DEFAULT_MAX_PLAINTEXT_BYTES).toBe(4 * 1024 * 1024);
      expect(c.maxPlaintextBytes).toBe(DEFAULT_MAX_PLAINTEXT_BYTES);
    });

    test('Precondition: a plaintext string is at most maxPlaintextBytes of UTF-8.', async () => {
      const small = cipher({}, rawKeyring(), 100);
      await expect(small.encrypt('é'.repeat(50), ctx)).resolves.toBeDefined();
      await expect(small.encrypt('é'.repeat(51), ctx)).rejects.toThrow(OversizeError);
      await expect(small.encrypt('é'.repeat(51), ctx)).rejects.toThrow(/102 bytes; the limit is 100 bytes/);
    });

    test('Precondition: plaintext bytes are at most maxPlaintextBytes.', async () => {
      const small = cipher({}, rawKeyring(), 100);
      await expect(small.encrypt(Buffer.alloc(100), ctx)).resolves.toBeDefined();
      await expect(small.encrypt(Buffer.alloc(101), ctx)).rejects.toThrow(/101 bytes; the limit is 100 bytes/);
    });

    test('Precondition: a stored value is no longer than an envelope of the largest plaintext.', async () => {
      const small = cipher({}, rawKeyring(), 100);
      await expect(small.decrypt('rk1:' + 'A'.repeat(200_000), ctx)).rejects.toThrow(OversizeError);
      await expect(small.decrypt(Buffer.alloc(200_000, 1), ctx)).rejects.toThrow(/^envelope is 200000 bytes/);
      expect(() => small.assertStoredSize('x'.repeat(200_000))).toThrow(/^stored value is 200000 bytes/);
    });

    test('Precondition: plaintext is a string or bytes.', async () => {
      await expect(c.encrypt(42 as unknown as string, ctx)).rejects.toThrow(InvalidPlaintextError);
      await expect(c.encrypt(null as unknown as string, ctx)).rejects.toThrow(/a string or a Buffer, got null/);
      await expect(c.encrypt(new Uint8Array([1, 2]) as Buffer, ctx)).resolves.toBeDefined();
    });

    test('Precondition: a plaintext string is well-formed Unicode.', async () => {
      await expect(c.encrypt('ab\udc00', ctx)).rejects.toThrow(InvalidPlaintextError);
      await expect(c.encrypt('ab\ud800', ctx)).rejects.toThrow(/lone surrogate/);
      await expect(c.encrypt('ab\ud83d\ude00', ctx)).resolves.toBeDefined(); // a surrogate pair is one code point
    });

    it('refuses a bad context before any key is used', async () => {
      await expect(c.encrypt('x', { ...ctx, rowId: '' })).rejects.toThrow(InvalidContextError);
      const e = await c.encrypt('x', ctx);
      await expect(c.decrypt(e, { table: 'users', column: 'email' } as typeof ctx)).rejects.toThrow(
        InvalidContextError,
      );
    });

    test('Precondition: maxPlaintextBytes is a non-negative integer.', () => {
      expect(() => cipher({}, rawKeyring(), -1)).toThrow(RangeError);
      expect(() => cipher({}, rawKeyring(), 1.5)).toThrow(/maxPlaintextBytes must be a non-negative integer, got 1.5/);
      expect(cipher({}, rawKeyring(), 0).maxPlaintextBytes).toBe(0);
    });
  });
});
