import { randomBytes } from 'node:crypto';
import { BlindIndex } from '../../../functions/core/crypto/blind-index';
import { InvalidContextError, InvalidPlaintextError, KeyMaterialError } from '../../../functions/core/crypto/errors';
import { caught, expectNoLeak } from './legacy/support';

/**
 * Known answers computed with Python (cryptography's HKDF, the standard
 * library's hmac), not with the code under test — scripts/gen-legacy-vectors.py:
 *   blind_index(bytes(range(32)), 'users', 'email', 'alice@example.com')
 * More, with random keys, in test/vectors/legacy.
 */
const KAT_KEY = Buffer.from([...Array(32).keys()]);
const KAT = {
  email: 'bidx-v1:3aad03fb7e0525766b6c3d764494766334b6329f5c9b6f8e05aa768e377d62dc',
  phone: 'bidx-v1:77f40819065dec22585b85998ee592be3f27f68a9194ee2a661763228c169f88',
};
const email = { table: 'users', column: 'email' };

describe('BlindIndex', () => {
  const v1 = randomBytes(32);
  const v2 = randomBytes(32);
  const env = {
    BLIND_INDEX_KEY: `bidx-v2:${v2.toString('base64')}`,
    BLIND_INDEX_KEY_PREVIOUS: `bidx-v1:${v1.toString('base64')}`,
  };

  it('matches the Python known answers: HKDF-SHA256 per column, HMAC-SHA256, `<key id>:<hex>`', () => {
    const index = BlindIndex.fromEnv({ BLIND_INDEX_KEY: `bidx-v1:${KAT_KEY.toString('base64')}` });
    expect(index.index('alice@example.com', email)).toBe(KAT.email);
    expect(index.index(Buffer.from('alice@example.com'), email)).toBe(KAT.email);
    expect(index.index('alice@example.com', { table: 'users', column: 'phone' })).toBe(KAT.phone);
  });

  it('is deterministic, separates columns and tables, and says which key made it', () => {
    const index = BlindIndex.fromEnv(env);
    const a = index.index('alice@example.com', email);
    expect(index.index('alice@example.com', email)).toBe(a);
    expect(a).toMatch(/^bidx-v2:[0-9a-f]{64}$/);
    expect(index.index('alice@example.com', { table: 'users', column: 'backup_email' })).not.toBe(a);
    expect(index.index('alice@example.com', { table: 'admins', column: 'email' })).not.toBe(a);
    expect(index.index('alice@example.co', email)).not.toBe(a);
    expect(index.versionOf(a)).toBe('bidx-v2');
    expect(index.isCurrent(a)).toBe(true);
  });

  it('offers one candidate per key version during a rotation, primary first', () => {
    const index = BlindIndex.fromEnv(env);
    const old = BlindIndex.fromEnv({ BLIND_INDEX_KEY: env.BLIND_INDEX_KEY_PREVIOUS }).index('alice@example.com', email);
    expect(index.keyIds).toEqual(['bidx-v2', 'bidx-v1']);
    expect(index.candidates('alice@example.com', email)).toEqual([index.index('alice@example.com', email), old]);
    expect(index.versionOf(old)).toBe('bidx-v1');
    expect(index.isCurrent(old)).toBe(false);
  });

  it('reads the version of stored indexes and refuses what is not one', () => {
    const index = BlindIndex.fromEnv(env);
    expect(index.versionOf(`bidx-v9:${'ab'.repeat(32)}`)).toBe('bidx-v9');
    for (const notOne of [
      'ab'.repeat(32),
      `bidx-v1:${'ab'.repeat(31)}`,
      `bidx-v1:${'AB'.repeat(32)}`,
      'bidx-v1:',
      '',
    ]) {
      expect(index.versionOf(notOne)).toBeUndefined();
      expect(index.isCurrent(notOne)).toBe(false);
    }
  });

  it('normalises e-mail addresses only when asked, for strings and bytes alike, per index or per column', () => {
    const exact = BlindIndex.fromEnv({ BLIND_INDEX_KEY: `bidx-v1:${KAT_KEY.toString('base64')}` });
    const emails = BlindIndex.fromEnv(
      { BLIND_INDEX_KEY: `bidx-v1:${KAT_KEY.toString('base64')}` },
      { normalize: 'email' },
    );
    expect(exact.index(' Alice@Example.com ', email)).not.toBe(KAT.email);
    expect(emails.index(' Alice@Example.com ', email)).toBe(KAT.email);
    expect(emails.index(Buffer.from(' ALICE@example.com\n'), email)).toBe(KAT.email); // the engine indexes decrypted bytes
    expect(exact.index(' Alice@Example.com ', { ...email, normalize: 'email' })).toBe(KAT.email);
    expect(emails.index(' Alice@Example.com ', { ...email, normalize: 'none' })).not.toBe(KAT.email);
  });

  it('refuses malformed keys naming the variable and position, never the key', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /^BLIND_INDEX_KEY is not set/],
      [{ BLIND_INDEX_KEY: v1.toString('base64') }, /^BLIND_INDEX_KEY must be <id>:<base64/],
      [{ BLIND_INDEX_KEY: `bidx-v1:${short}` }, /^BLIND_INDEX_KEY: the key decodes to 16 bytes, expected 32$/],
      [{ BLIND_INDEX_KEY: 'bidx-v1:not base64!' }, /^BLIND_INDEX_KEY: the key is not base64$/],
      [{ BLIND_INDEX_KEY: `bidx v1:${v1.toString('base64')}` }, /^BLIND_INDEX_KEY: the key id must be/],
      [
        {
          BLIND_INDEX_KEY: env.BLIND_INDEX_KEY,
          BLIND_INDEX_KEY_PREVIOUS: `${env.BLIND_INDEX_KEY_PREVIOUS},bidx-v0:${short}`,
        },
        /^BLIND_INDEX_KEY_PREVIOUS\[2\]: the key decodes to 16 bytes/,
      ],
      [
        { BLIND_INDEX_KEY: env.BLIND_INDEX_KEY, BLIND_INDEX_KEY_PREVIOUS: `bidx-v2:${v1.toString('base64')}` },
        /^duplicate blind index key id bidx-v2$/,
      ],
      [
        { BLIND_INDEX_KEY_PREVIOUS: env.BLIND_INDEX_KEY_PREVIOUS },
        /BLIND_INDEX_KEY_PREVIOUS is set but BLIND_INDEX_KEY is not/,
      ],
    ];
    for (const [bad, message] of cases) {
      const err = caught(() => BlindIndex.fromEnv(bad));
      expect(err).toBeInstanceOf(KeyMaterialError);
      expect(err.message).toMatch(message);
      expectNoLeak(err, [v1, v2, Buffer.from(short, 'base64')]);
    }
    expect(BlindIndex.configured({ BLIND_INDEX_KEY_PREVIOUS: env.BLIND_INDEX_KEY_PREVIOUS })).toBe(false);
    expect(() => new BlindIndex([])).toThrow(KeyMaterialError);
  });

  it('refuses table and column names that would blur the per-column key derivation', () => {
    const index = BlindIndex.fromEnv(env);
    for (const where of [
      { table: '', column: 'email' },
      { table: 'users', column: '' },
      { table: 'a|b', column: 'c' },
      { table: 'a', column: 'b|c' },
    ]) {
      const err = caught(() => index.index('x', where));
      expect(err).toBeInstanceOf(InvalidContextError);
      expect(err).toMatchObject({ field: where.table === '' || where.table.includes('|') ? 'table' : 'column' });
    }
  });

  it('refuses a value that is not a string or bytes with a typed error that does not quote it', () => {
    const index = BlindIndex.fromEnv(env);
    for (const value of [4111111111111111, null, undefined, { pan: '4111111111111111' }]) {
      const err = caught(() => index.index(value as never, email));
      expect(err).toBeInstanceOf(InvalidPlaintextError);
      expectNoLeak(err, ['4111111111111111']);
    }
    expect(caught(() => index.index('x', null as never))).toBeInstanceOf(InvalidContextError);
    expect(index.index(new Uint8Array(Buffer.from('alice')) as Buffer, email)).toBe(index.index('alice', email));
  });
});
