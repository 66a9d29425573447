import { createSecretKey, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { wrapAad } from '../../../../functions/core/crypto/envelope-aad';
import { AuthenticationError, KeyMaterialError, UnknownKeyError } from '../../../../functions/core/crypto/errors';
import type { WrapContext } from '../../../../functions/core/crypto/keyring';
import { RAW_WRAPPED_KEY_BYTES, RawKeyring, formatRawKey } from '../../../../functions/core/crypto/keyrings/raw';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const k3 = randomBytes(32);
const ctx = { table: 'users', column: 'email', rowId: '42' };
const wc = (keyId: string, c = ctx): WrapContext => ({ formatVersion: 1, context: c, aad: wrapAad(1, keyId, c) });
const secretsOf = (...keys: Buffer[]): string[] =>
  keys.flatMap((k) => [k.toString('base64'), k.toString('hex'), k.toString('base64url')]);

/** The KeyMaterialError thrown for `env`, checked never to carry key material. */
function envError(env: Record<string, string>): KeyMaterialError {
  let caught: unknown;
  try {
    RawKeyring.fromEnv(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(KeyMaterialError);
  const message = (caught as Error).message + inspect(caught);
  for (const secret of secretsOf(k1, k2, k3)) expect(message).not.toContain(secret);
  for (const value of Object.values(env)) {
    const material = value
      .split(',')
      .map((entry) => entry.slice(entry.indexOf(':') + 1).trim())
      .filter((m) => m.length >= 8);
    for (const m of material) expect(message).not.toContain(m);
  }
  return caught as KeyMaterialError;
}

describe('RawKeyring.fromEnv', () => {
  it("reads the operators' convention: SECRETS_ENCRYPTION_KEY primary, _PREVIOUS decrypt-only", async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', k2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', k1),
    });
    expect(await kr.primaryKeyId()).toBe('kek-v2');
    expect(await kr.keyIds()).toEqual(['kek-v2', 'kek-v1']);
  });

  it("takes the runbook's literal example lines", async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: 'kek-v2:xR7qW2mN9pL4kJ8vB3tY6fE1hG5sD0cA9uI7oP2nM6w=',
      SECRETS_ENCRYPTION_KEY_PREVIOUS: 'kek-v1:8B3uCQ4Znx45hl5nB+PKVriRrj/KtEVM+wBZ2VGa9vY=',
    });
    expect(await kr.keyIds()).toEqual(['kek-v2', 'kek-v1']);
  });

  it('takes more than two keys as a _PREVIOUS list', async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v3', k3),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: ` ${formatRawKey('kek-v2', k2)} , ${formatRawKey('kek-v1', k1)},`,
    });
    expect(await kr.keyIds()).toEqual(['kek-v3', 'kek-v2', 'kek-v1']);
  });

  it('takes SECRETS_ENCRYPTION_KEYS, primary first', async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEYS: [formatRawKey('kek-v3', k3), formatRawKey('kek-v1', k1)].join(','),
    });
    expect(await kr.keyIds()).toEqual(['kek-v3', 'kek-v1']);
  });

  it('precedence: SECRETS_ENCRYPTION_KEY is primary over the list; identical repeats merge; order primary, list, previous', async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v3', k3),
      SECRETS_ENCRYPTION_KEYS: [formatRawKey('kek-v2', k2), formatRawKey('kek-v3', k3)].join(','),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', k1),
    });
    expect(await kr.primaryKeyId()).toBe('kek-v3');
    expect(await kr.keyIds()).toEqual(['kek-v3', 'kek-v2', 'kek-v1']);
  });

  it('treats blank variables as unset (the runbook says "remove or leave empty")', async () => {
    const kr = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', k2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: '  ',
    });
    expect(await kr.keyIds()).toEqual(['kek-v2']);
  });

  it('accepts base64 without padding', async () => {
    const kr = RawKeyring.fromEnv({ SECRETS_ENCRYPTION_KEY: 'kek-v1:' + k1.toString('base64').replace(/=+$/, '') });
    expect(await kr.keyIds()).toEqual(['kek-v1']);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['nothing set', {}, /no key-encryption key configured: set SECRETS_ENCRYPTION_KEY=/],
    [
      'only _PREVIOUS',
      { SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', k1) },
      /SECRETS_ENCRYPTION_KEY_PREVIOUS is set but there is no primary key/,
    ],
    [
      'missing id prefix',
      { SECRETS_ENCRYPTION_KEY: k1.toString('base64') },
      /^SECRETS_ENCRYPTION_KEY: missing the "<key id>:" prefix/,
    ],
    [
      'bad base64',
      {
        SECRETS_ENCRYPTION_KEY: 'kek-v1:' + k1.toString('base64').slice(0, 20) + '!' + k1.toString('base64').slice(21),
      },
      /^SECRETS_ENCRYPTION_KEY \(kek-v1\): the key is not valid base64/,
    ],
    [
      'base64url alphabet',
      { SECRETS_ENCRYPTION_KEY: 'kek-v1:' + Buffer.alloc(32, 0xfb).toString('base64url') },
      /not valid base64/,
    ],
    [
      '16 bytes',
      { SECRETS_ENCRYPTION_KEY: 'kek-v1:' + k1.subarray(0, 16).toString('base64') },
      /decodes to 16 bytes; a key-encryption key is 32/,
    ],
    [
      '33 bytes',
      { SECRETS_ENCRYPTION_KEY: 'kek-v1:' + Buffer.concat([k1, Buffer.from([1])]).toString('base64') },
      /decodes to 33 bytes/,
    ],
    ['empty key', { SECRETS_ENCRYPTION_KEY: 'kek-v1:' }, /not valid base64/],
    ['bad id', { SECRETS_ENCRYPTION_KEY: 'kek v1:' + k1.toString('base64') }, /the key id before ":" must be/],
    [
      'duplicate id in one list',
      {
        SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v3', k3),
        SECRETS_ENCRYPTION_KEY_PREVIOUS: `${formatRawKey('kek-v1', k1)},${formatRawKey('kek-v1', k1)}`,
      },
      /^SECRETS_ENCRYPTION_KEY_PREVIOUS entry 2: duplicate key id "kek-v1"$/,
    ],
    [
      'same id, different keys, two variables',
      {
        SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', k2),
        SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v2', k1),
      },
      /SECRETS_ENCRYPTION_KEY_PREVIOUS: duplicate key id "kek-v2" \(also in SECRETS_ENCRYPTION_KEY, with different key material\)/,
    ],
    [
      'two primaries',
      { SECRETS_ENCRYPTION_KEY: `${formatRawKey('kek-v2', k2)},${formatRawKey('kek-v1', k1)}` },
      /SECRETS_ENCRYPTION_KEY holds 2 keys; it takes one/,
    ],
    [
      'bad entry in a list',
      { SECRETS_ENCRYPTION_KEYS: `${formatRawKey('kek-v2', k2)},kek-v1:AAAA` },
      /^SECRETS_ENCRYPTION_KEYS entry 2 \(kek-v1\): the key decodes to 3 bytes/,
    ],
  ])('refuses %s with a KeyMaterialError naming the variable, never the key', (_what, env, message) => {
    expect(envError(env).message).toMatch(message);
  });
});

describe('RawKeyring', () => {
  const kr = new RawKeyring([
    { id: 'kek-v2', key: k2 },
    { id: 'kek-v1', key: createSecretKey(k1) },
  ]);

  it('wraps a fresh 32-byte data key as nonce|ct|tag (60 bytes) and unwraps it', async () => {
    const { keyId, plaintext, wrapped } = await kr.generateDataKey('kek-v2', wc('kek-v2'));
    expect(keyId).toBe('kek-v2');
    expect(plaintext.length).toBe(32);
    expect(wrapped.length).toBe(RAW_WRAPPED_KEY_BYTES);
    expect((await kr.unwrapDataKey('kek-v2', wrapped, wc('kek-v2'))).equals(plaintext)).toBe(true);
  });

  it('draws a different data key and wrap nonce every time', async () => {
    const a = await kr.generateDataKey('kek-v2', wc('kek-v2'));
    const b = await kr.generateDataKey('kek-v2', wc('kek-v2'));
    expect(a.plaintext.equals(b.plaintext)).toBe(false);
    expect(a.wrapped.subarray(0, 12).equals(b.wrapped.subarray(0, 12))).toBe(false);
  });

  it('binds the wrap to its AAD (key id and context)', async () => {
    const { wrapped } = await kr.generateDataKey('kek-v2', wc('kek-v2'));
    await expect(kr.unwrapDataKey('kek-v2', wrapped, wc('kek-v2', { ...ctx, rowId: '43' }))).rejects.toMatchObject({
      part: 'data-key',
    });
    await expect(kr.unwrapDataKey('kek-v1', wrapped, wc('kek-v1'))).rejects.toThrow(AuthenticationError);
  });

  it('refuses a wrapped key of the wrong length as a tampered data key', async () => {
    const { wrapped } = await kr.generateDataKey('kek-v2', wc('kek-v2'));
    await expect(kr.unwrapDataKey('kek-v2', wrapped.subarray(0, 59), wc('kek-v2'))).rejects.toThrow(
      AuthenticationError,
    );
    await expect(kr.unwrapDataKey('kek-v2', Buffer.concat([wrapped, Buffer.alloc(1)]), wc('kek-v2'))).rejects.toThrow(
      AuthenticationError,
    );
  });

  it('rewraps under another key: same data key, new key id in the AAD', async () => {
    const { plaintext, wrapped } = await kr.generateDataKey('kek-v1', wc('kek-v1'));
    const rewrapped = await kr.rewrapDataKey('kek-v1', wrapped, wc('kek-v1'), 'kek-v2', wc('kek-v2'));
    expect((await kr.unwrapDataKey('kek-v2', rewrapped, wc('kek-v2'))).equals(plaintext)).toBe(true);
    await expect(kr.unwrapDataKey('kek-v2', rewrapped, wc('kek-v1'))).rejects.toThrow(AuthenticationError);
  });

  it('throws UnknownKeyError for a key it does not hold', async () => {
    await expect(kr.generateDataKey('kek-v9', wc('kek-v9'))).rejects.toThrow(UnknownKeyError);
    await expect(kr.unwrapDataKey('kek-v9', Buffer.alloc(60), wc('kek-v9'))).rejects.toThrow(UnknownKeyError);
    await expect(kr.rewrapDataKey('kek-v1', Buffer.alloc(60), wc('kek-v1'), 'kek-v9', wc('kek-v9'))).rejects.toThrow(
      UnknownKeyError,
    );
  });

  it('makes no remote calls', async () => {
    await kr.refresh();
    expect(kr.stats()).toEqual({ kmsCalls: 0, secretsManagerCalls: 0 });
  });

  it("copies Buffer keys: zeroing the caller's buffer does not break it", async () => {
    const mine = Buffer.from(k3);
    const own = new RawKeyring([{ id: 'kek-v3', key: mine }]);
    const { plaintext, wrapped } = await own.generateDataKey('kek-v3', wc('kek-v3'));
    mine.fill(0);
    expect((await own.unwrapDataKey('kek-v3', wrapped, wc('kek-v3'))).equals(plaintext)).toBe(true);
  });

  it('does not show key material when inspected or serialized', () => {
    const shown = inspect(kr, { depth: 10, showHidden: true }) + JSON.stringify(kr);
    for (const secret of secretsOf(k1, k2)) expect(shown).not.toContain(secret);
  });

  it.each<[string, () => RawKeyring, RegExp]>([
    ['no keys', () => new RawKeyring([]), /at least one key/],
    ['a 16-byte key', () => new RawKeyring([{ id: 'a', key: Buffer.alloc(16) }]), /16 bytes/],
    [
      'a duplicate id',
      () =>
        new RawKeyring([
          { id: 'a', key: k1 },
          { id: 'a', key: k2 },
        ]),
      /duplicate key id "a"/,
    ],
    ['an id with a colon', () => new RawKeyring([{ id: 'a:b', key: k1 }]), /the id must be/],
    ['a primary not given', () => new RawKeyring([{ id: 'a', key: k1 }], 'b'), /primary key "b" is not among/],
  ])('refuses %s', (_what, make, message) => {
    expect(make).toThrow(KeyMaterialError);
    expect(make).toThrow(message);
  });

  it('formatRawKey writes the env line fromEnv reads, and refuses a wrong length', async () => {
    expect(formatRawKey('kek-v1', k1)).toBe('kek-v1:' + k1.toString('base64'));
    expect(() => formatRawKey('kek-v1', Buffer.alloc(31))).toThrow(KeyMaterialError);
  });
});
