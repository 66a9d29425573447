import { randomBytes } from 'node:crypto';
import { BlindIndex } from '../../../../functions/core/crypto/blind-index';
import { KeyMaterialError, LegacyFormatError } from '../../../../functions/core/crypto/errors';
import { classifyValue } from '../../../../functions/core/crypto/legacy/classify';
import { fernetEncrypt, FernetReader } from '../../../../functions/core/crypto/legacy/fernet';
import { JsonKeyIdReader } from '../../../../functions/core/crypto/legacy/json-key-id';
import { PlaintextReader } from '../../../../functions/core/crypto/legacy/plaintext';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';

const fernetKey = randomBytes(32).toString('base64url');

describe('FernetReader', () => {
  it('names the variable and never the key when a key is malformed', () => {
    const bad = 'A'.repeat(40);
    for (const [env, name] of [
      [{ ENCRYPTION_KEY: bad }, 'ENCRYPTION_KEY'],
      [{ ENCRYPTION_KEY: fernetKey, ENCRYPTION_KEY_FALLBACK: `${fernetKey},nope!` }, 'ENCRYPTION_KEY_FALLBACK[2]'],
    ] as const) {
      const err = (() => {
        try {
          FernetReader.fromEnv(env);
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(KeyMaterialError);
      expect(err!.message).toContain(name);
      expect(err!.message).not.toContain(fernetKey);
    }
    expect(() => FernetReader.fromEnv({})).toThrow(/ENCRYPTION_KEY/);
  });

  it('round-trips its own writer and enforces an opt-in TTL', () => {
    const token = fernetEncrypt(fernetKey, 'hello', { time: 1_000 });
    expect(FernetReader.fromKeys([fernetKey]).decryptSync(token).toString()).toBe('hello');
    const withTtl = FernetReader.fromKeys([fernetKey], { ttlSeconds: 60, now: () => 2_000_000 });
    expect(() => withTtl.decryptSync(token)).toThrow(LegacyFormatError);
  });

  it('recognizes tokens by shape only', () => {
    const reader = FernetReader.fromKeys([fernetKey]);
    expect(reader.recognizes(fernetEncrypt(fernetKey, 'x'))).toBe(true);
    expect(reader.recognizes('gAAAAA')).toBe(false);
    expect(reader.recognizes('hello world')).toBe(false);
  });
});

describe('JsonKeyIdReader', () => {
  const reader = new JsonKeyIdReader(() => randomBytes(32));
  it('lists every problem of a malformed envelope at once', async () => {
    const err = await reader.decrypt('{"key_id":"kek-v1","nonce":"!!","ciphertext":5,"alg":"DES"}').catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(LegacyFormatError);
    expect((err as Error).message).toMatch(/alg .*nonce .*ciphertext/);
  });
  it('refuses non-JSON and ignores JSON without key_id', async () => {
    await expect(reader.decrypt('{oops')).rejects.toBeInstanceOf(LegacyFormatError);
    expect(reader.recognizes('{"a":1}')).toBe(false);
  });
});

describe('classifyValue', () => {
  it('tells envelopes (with key id), Fernet, JSON key_id, plaintext and NULL apart', async () => {
    const keyring = new RawKeyring([{ id: 'kek-v1', key: randomBytes(32) }]);
    const cipher = await EnvelopeCipher.create({ keyring });
    const ctx = { table: 't', column: 'c', rowId: '1' };
    const readers = [FernetReader.fromKeys([fernetKey]), new JsonKeyIdReader(() => undefined), new PlaintextReader()];
    expect(classifyValue(await cipher.encrypt('s', ctx), readers)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
    expect(classifyValue(await cipher.encrypt(Buffer.from('s'), ctx), readers)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
    expect(classifyValue(fernetEncrypt(fernetKey, 'x'), readers)).toEqual({ kind: 'fernet' });
    expect(classifyValue('{"key_id":"kek-v0","nonce":"","ciphertext":""}', readers)).toEqual({ kind: 'json-key-id', keyId: 'kek-v0' });
    expect(classifyValue('alice@example.com', readers)).toEqual({ kind: 'plaintext' });
    expect(classifyValue(null, readers)).toEqual({ kind: 'null' });
  });
});

describe('BlindIndex', () => {
  const v1 = randomBytes(32);
  const v2 = randomBytes(32);
  const env = { BLIND_INDEX_KEY: `bidx-v2:${v2.toString('base64')}`, BLIND_INDEX_KEY_PREVIOUS: `bidx-v1:${v1.toString('base64')}` };
  const where = { table: 'users', column: 'email' };

  it('is deterministic per column, versioned, and offers one candidate per key during rotation', () => {
    const index = BlindIndex.fromEnv(env);
    const a = index.index('alice@example.com', where);
    expect(a).toBe(index.index('alice@example.com', where));
    expect(a).toMatch(/^bidx-v2:[0-9a-f]{64}$/);
    expect(index.versionOf(a)).toBe('bidx-v2');
    expect(index.isCurrent(a)).toBe(true);
    const old = BlindIndex.fromEnv({ BLIND_INDEX_KEY: env.BLIND_INDEX_KEY_PREVIOUS }).index('alice@example.com', where);
    expect(index.candidates('alice@example.com', where)).toEqual([a, old]);
    expect(index.isCurrent(old)).toBe(false);
    expect(index.index('alice@example.com', { table: 'users', column: 'backup_email' })).not.toBe(a);
  });

  it('normalises e-mail addresses only when asked', () => {
    const exact = BlindIndex.fromEnv(env);
    const email = BlindIndex.fromEnv(env, { normalize: 'email' });
    expect(exact.index(' Alice@Example.com ', where)).not.toBe(exact.index('alice@example.com', where));
    expect(email.index(' Alice@Example.com ', where)).toBe(email.index('alice@example.com', where));
  });

  it('refuses bad keys naming the variable, never the key', () => {
    expect(() => BlindIndex.fromEnv({})).toThrow(/BLIND_INDEX_KEY/);
    expect(() => BlindIndex.fromEnv({ BLIND_INDEX_KEY: 'bidx-v1:c2hvcnQ=' })).toThrow(/BLIND_INDEX_KEY: .*5 bytes/);
    expect(() => BlindIndex.fromEnv({ BLIND_INDEX_KEY: v1.toString('base64') })).toThrow(/<id>:<base64/);
  });
});
