import { randomBytes } from 'node:crypto';
import { AuthenticationError, KeyMaterialError, LegacyFormatError } from '../../../../functions/core/crypto/errors';
import { LegacyAuthenticationError } from '../../../../functions/core/crypto/legacy/errors';
import { UnknownKeyError } from '../../../../functions/core/crypto/errors';
import {
  fernetEncrypt,
  FernetReader,
  fernetTimestamp,
  looksLikeFernet,
  UNKNOWN_FERNET_KEY,
} from '../../../../functions/core/crypto/legacy/fernet';
import { fernetKeyId } from '../../../../functions/core/crypto/legacy/fernet-keys';
import { caught, expectError, expectNoLeak } from './support';

/**
 * The known answer is the Fernet spec's own (github.com/fernet/spec,
 * generate.json), which scripts/gen-legacy-vectors.py also re-makes with
 * Python's cryptography. Tokens from Python at large: test/vectors/legacy.
 */
const SPEC = {
  secret: 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=',
  time: 499162800, // 1985-10-26T01:20:00-07:00
  iv: Buffer.from([...Array(16).keys()]),
  plaintext: 'hello',
  token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
};
const SECRET_TEXT = 'sk-live-DO-NOT-LEAK-4242';

function flipped(token: string, offset: number): string {
  const raw = Buffer.from(token, 'base64url');
  raw[offset < 0 ? raw.length + offset : offset]! ^= 0x01;
  return raw.toString('base64url');
}

describe('FernetReader against the spec vector', () => {
  it('decrypts the spec token, and the test writer reproduces it byte for byte', () => {
    expect(FernetReader.fromKeys([SPEC.secret]).decryptSync(SPEC.token).toString('utf8')).toBe(SPEC.plaintext);
    expect(fernetEncrypt(SPEC.secret, SPEC.plaintext, { iv: SPEC.iv, time: SPEC.time })).toBe(SPEC.token);
  });

  it('reads tokens given as bytes (a bytea column) as well as text', async () => {
    expect((await FernetReader.fromKeys([SPEC.secret]).decrypt(Buffer.from(SPEC.token, 'latin1'))).toString()).toBe(
      SPEC.plaintext,
    );
  });

  it('does no time check by default; with a TTL refuses expired and far-future tokens (60 s skew, as Python)', () => {
    const at = (seconds: number): FernetReader =>
      FernetReader.fromKeys([SPEC.secret], { ttlSeconds: 60, now: () => seconds * 1000 });
    expect(FernetReader.fromKeys([SPEC.secret]).decryptSync(SPEC.token).toString()).toBe('hello'); // issued in 1985
    expect(
      at(SPEC.time + 60)
        .decryptSync(SPEC.token)
        .toString(),
    ).toBe('hello');
    expectError(
      caught(() => at(SPEC.time + 61).decryptSync(SPEC.token)),
      LegacyFormatError,
      /expired/,
    );
    expect(
      at(SPEC.time - 60)
        .decryptSync(SPEC.token)
        .toString(),
    ).toBe('hello');
    expectError(
      caught(() => at(SPEC.time - 61).decryptSync(SPEC.token)),
      LegacyFormatError,
      /future/,
    );
    expect(() => FernetReader.fromKeys([SPEC.secret], { ttlSeconds: 0 })).toThrow(KeyMaterialError);
  });
});

describe('FernetReader keys (ENCRYPTION_KEY, then ENCRYPTION_KEY_FALLBACK)', () => {
  const k1 = randomBytes(32).toString('base64url');
  const k2 = randomBytes(32).toString('base64url');
  const k3 = randomBytes(32).toString('base64url');

  it('reads tokens under the primary, the fallback, and every entry of a comma-separated list', () => {
    const reader = FernetReader.fromEnv({ ENCRYPTION_KEY: k1, ENCRYPTION_KEY_FALLBACK: ` ${k2} , ${k3} ` });
    for (const key of [k1, k2, k3])
      expect(reader.decryptSync(fernetEncrypt(key, SECRET_TEXT)).toString()).toBe(SECRET_TEXT);
    expect(
      FernetReader.fromEnv({ ENCRYPTION_KEY: `${k1},${k2}` })
        .decryptSync(fernetEncrypt(k2, 'x'))
        .toString(),
    ).toBe('x');
  });

  it('accepts the standard-base64 spelling of a key, as Python does', () => {
    const std = Buffer.from(k1, 'base64url').toString('base64');
    expect(FernetReader.fromEnv({ ENCRYPTION_KEY: std }).decryptSync(fernetEncrypt(k1, 'x')).toString()).toBe('x');
  });

  it('uses the first key whose HMAC verifies (MultiFernet order)', () => {
    // Two keys sharing a signing half both verify the token; only the first one's encryption half is tried.
    const signing = randomBytes(16);
    const right = Buffer.concat([signing, randomBytes(16)]);
    const wrong = Buffer.concat([signing, randomBytes(16)]);
    const token = fernetEncrypt(right, SECRET_TEXT);
    expect(FernetReader.fromKeys([right, wrong]).decryptSync(token).toString()).toBe(SECRET_TEXT);
    let second: string | Error;
    try {
      second = FernetReader.fromKeys([wrong, right]).decryptSync(token).toString();
    } catch (err) {
      second = err as Error;
    }
    expect(second).not.toBe(SECRET_TEXT);
  });

  it('refuses a token under a key it does not have, naming the variables tried and never a key', () => {
    const reader = FernetReader.fromEnv({ ENCRYPTION_KEY: k1, ENCRYPTION_KEY_FALLBACK: k2 });
    const err = caught(() => reader.decryptSync(fernetEncrypt(k3, SECRET_TEXT)));
    expect(err).toBeInstanceOf(LegacyAuthenticationError);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ code: 'AUTHENTICATION_FAILED', format: 'fernet', retryable: false });
    expect(err.message).toMatch(/2 configured key\(s\) \(ENCRYPTION_KEY, ENCRYPTION_KEY_FALLBACK\)/);
    expectNoLeak(err, [k1, k2, k3, SECRET_TEXT]);
  });

  it('names the variable (and list position) of a malformed key, never the key', () => {
    const short = randomBytes(16).toString('base64url');
    const cases: [Record<string, string>, RegExp][] = [
      [{ ENCRYPTION_KEY: 'not base64!' }, /^ENCRYPTION_KEY is not a base64url Fernet key$/],
      [{ ENCRYPTION_KEY: short }, /^ENCRYPTION_KEY decodes to 16 bytes; a Fernet key is 32 bytes/],
      [
        { ENCRYPTION_KEY: k1, ENCRYPTION_KEY_FALLBACK: `${k2},${short}` },
        /^ENCRYPTION_KEY_FALLBACK\[2\] decodes to 16 bytes/,
      ],
      [{ ENCRYPTION_KEY: k1.slice(0, 41) }, /^ENCRYPTION_KEY is not a base64url Fernet key$/],
    ];
    for (const [env, message] of cases) {
      const err = caught(() => FernetReader.fromEnv(env));
      expect(err).toBeInstanceOf(KeyMaterialError);
      expect(err.message).toMatch(message);
      expectNoLeak(err, [short, k1, k2]);
    }
    expectError(
      caught(() => FernetReader.fromEnv({})),
      KeyMaterialError,
      /ENCRYPTION_KEY/,
    );
    expect(FernetReader.configured({ ENCRYPTION_KEY_FALLBACK: k1 })).toBe(true);
    expect(FernetReader.configured({ ENCRYPTION_KEY: '  ' })).toBe(false);
  });
});

describe('FernetReader bad input', () => {
  const reader = FernetReader.fromKeys([SPEC.secret]);
  const length = Buffer.from(SPEC.token, 'base64url').length;

  it.each([
    ['version byte', 0, LegacyFormatError],
    ['timestamp', 4, AuthenticationError],
    ['IV', 9, AuthenticationError],
    ['ciphertext', 30, AuthenticationError],
    ['HMAC (first byte)', length - 32, AuthenticationError],
    ['HMAC (last byte)', -1, AuthenticationError],
  ])('refuses a token with a flipped bit in its %s', (_part, offset, type) => {
    const err = caught(() => reader.decryptSync(flipped(SPEC.token, offset)));
    expect(err).toBeInstanceOf(type);
    expectNoLeak(err, [SPEC.secret, Buffer.from(SPEC.secret, 'base64url')]);
  });

  it('checks the HMAC before decrypting: an unauthenticated token never reaches AES (no padding oracle)', () => {
    // A flipped last ciphertext byte would give a padding error if decrypted; the HMAC must refuse it first.
    const err = caught(() => reader.decryptSync(flipped(SPEC.token, length - 33)));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.message).not.toMatch(/padding/);
  });

  it('refuses what is not base64url, truncated, or not whole blocks, with a format error', () => {
    const raw = Buffer.from(SPEC.token, 'base64url');
    for (const bad of [
      'not a token!',
      SPEC.token.slice(0, 40),
      `${SPEC.token}trailing`,
      `${SPEC.token.slice(0, 10)}+/${SPEC.token.slice(12)}`,
      raw.subarray(0, raw.length - 1).toString('base64url'),
      '',
    ]) {
      expect(caught(() => reader.decryptSync(bad))).toBeInstanceOf(LegacyFormatError);
    }
  });

  it('recognizes tokens by shape only', () => {
    expect(reader.recognizes(SPEC.token)).toBe(true);
    expect(looksLikeFernet(Buffer.from(SPEC.token))).toBe(true);
    expect(reader.recognizes(fernetEncrypt(randomBytes(32), ''))).toBe(true); // any key: no key is needed to tell
    expect(reader.recognizes('gAAAAA')).toBe(false);
    expect(reader.recognizes(SPEC.token.slice(0, 90))).toBe(false);
    expect(reader.recognizes(`${SPEC.token.slice(0, 10)}+${SPEC.token.slice(11)}`)).toBe(false);
    expect(reader.recognizes('alice@example.com')).toBe(false);
    expect(reader.recognizes(Buffer.from([0x80, 0, 0, 0]))).toBe(false);
    expect(reader.keyIdOf(fernetEncrypt(randomBytes(32), 'x'))).toBe(UNKNOWN_FERNET_KEY); // shape says Fernet, no configured HMAC verifies
  });
});

describe('Fernet key ids, rotation writes', () => {
  const oldKey = randomBytes(32).toString('base64url');
  const newKey = randomBytes(32).toString('base64url');

  it('names a key by a one-way fingerprint, never by the key', () => {
    const id = fernetKeyId(SPEC.secret);
    expect(id).toMatch(/^fernet:[0-9a-f]{16}$/);
    expect(fernetKeyId(Buffer.from(SPEC.secret, 'base64url'))).toBe(id);
    expect(fernetKeyId(newKey)).not.toBe(id);
    expect(id).not.toContain(Buffer.from(SPEC.secret, 'base64url').toString('hex').slice(0, 16));
  });

  it('tells which configured key a token is under by its HMAC (primary first, fallback next, unknown otherwise)', () => {
    const reader = FernetReader.fromEnv({ ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_FALLBACK: oldKey });
    expect(reader.primaryKeyId()).toBe(fernetKeyId(newKey));
    expect(reader.keyIds()).toEqual([fernetKeyId(newKey), fernetKeyId(oldKey)]);
    expect(reader.keyIdOf(fernetEncrypt(oldKey, 'a'))).toBe(fernetKeyId(oldKey));
    expect(reader.keyIdOf(fernetEncrypt(newKey, 'a'))).toBe(fernetKeyId(newKey));
    expect(reader.keyIdOf(flipped(fernetEncrypt(newKey, 'a'), -1))).toBe(UNKNOWN_FERNET_KEY);
    expect(reader.keyIdOf('gAAAAA!!')).toBe(UNKNOWN_FERNET_KEY);
  });

  it('writes under a configured key by id, keeping a given timestamp (MultiFernet.rotate), and refuses an unknown id', () => {
    const reader = FernetReader.fromEnv({ ENCRYPTION_KEY: newKey, ENCRYPTION_KEY_FALLBACK: oldKey });
    const old = fernetEncrypt(oldKey, SECRET_TEXT, { time: 1_000_000 });
    expect(fernetTimestamp(old)).toBe(1_000_000);
    const rotated = reader.encrypt(reader.primaryKeyId(), reader.decryptSync(old), fernetTimestamp(old));
    expect(fernetTimestamp(rotated)).toBe(1_000_000);
    expect(reader.keyIdOf(rotated)).toBe(fernetKeyId(newKey));
    expect(FernetReader.fromKeys([newKey]).decryptSync(rotated).toString()).toBe(SECRET_TEXT);
    expect(() => reader.encrypt('fernet:0000000000000000', Buffer.from('x'))).toThrow(UnknownKeyError);
    expect(fernetTimestamp('not a token')).toBeUndefined();
  });
});
