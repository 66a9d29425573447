import { randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  KeyMaterialError,
  LegacyFormatError,
  UnknownKeyError,
} from '../../../../functions/core/crypto/errors';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import { LegacyAuthenticationError } from '../../../../functions/core/crypto/legacy/errors';
import {
  jsonKeyIdEncrypt,
  jsonKeyIdOf,
  JsonKeyIdReader,
  looksLikeJsonKeyId,
  OVERSIZED_KEY_ID,
} from '../../../../functions/core/crypto/legacy/json-key-id';
import { caughtAsync, expectError, expectNoLeak } from './support';

/**
 * Known answer made by Python's cryptography (scripts/gen-legacy-vectors.py,
 * everruns_value with KEK = bytes 0..31, DEK = bytes 32..63, wrap nonce
 * a0..ab, nonce b0..bb), in everruns' EncryptedPayload layout.
 */
const KEK = Buffer.from([...Array(32).keys()]);
const KAT_PLAINTEXT = 'sk-live-1234567890';
const KAT =
  '{"version":1,"alg":"AES-256-GCM","key_id":"kek-v1",' +
  '"dek_wrapped":"oKGio6SlpqeoqaqrxjleDmHuJJhKTK34K1fu8UCdayOmgnRbpDccvUOWSz5NG5o6DNTfyEiueOzoTPPC",' +
  '"nonce":"sLGys7S1tre4ubq7","ciphertext":"RZEHK/tVrSMDPy7ONguqDq8DLGNJoHURQfIdMlTjLVkHSA=="}';
const DEK = Buffer.from([...Array(32).keys()].map((i) => i + 32));

const reader = new JsonKeyIdReader((id) => (id === 'kek-v1' ? KEK : undefined));

/** The KAT with some fields replaced (or removed with `undefined`). */
function variant(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...(JSON.parse(KAT) as Record<string, unknown>), ...changes });
}

function flippedField(field: 'dek_wrapped' | 'nonce' | 'ciphertext', offset: number): string {
  const raw = Buffer.from((JSON.parse(KAT) as Record<string, string>)[field]!, 'base64');
  raw[offset < 0 ? raw.length + offset : offset]! ^= 0x01;
  return variant({ [field]: raw.toString('base64') });
}

describe('JsonKeyIdReader on everruns EncryptedPayload values', () => {
  it('decrypts the Python-made known answer, as text and as bytes', async () => {
    expect((await reader.decrypt(KAT)).toString('utf8')).toBe(KAT_PLAINTEXT);
    expect((await reader.decrypt(Buffer.from(KAT, 'utf8'))).toString('utf8')).toBe(KAT_PLAINTEXT);
  });

  it("takes the raw keyring's KEKs (SECRETS_ENCRYPTION_KEY=kek-vN:<base64>) through resolveKek", async () => {
    const keyring = RawKeyring.fromEnv({
      SECRETS_ENCRYPTION_KEY: `kek-v2:${randomBytes(32).toString('base64')}`,
      SECRETS_ENCRYPTION_KEY_PREVIOUS: `kek-v1:${KEK.toString('base64')}`,
    });
    const viaKeyring = new JsonKeyIdReader((id) => keyring.kekFor(id));
    expect((await viaKeyring.decrypt(KAT)).toString()).toBe(KAT_PLAINTEXT);
  });

  it('reads the key_id without decrypting (what the runbook greps for)', () => {
    expect(reader.keyIdOf(KAT)).toBe('kek-v1');
    expect(jsonKeyIdOf(Buffer.from(` \n${variant({ key_id: 'kek-v7' })}`))).toBe('kek-v7');
    expect(reader.recognizes(KAT)).toBe(true);
    const plaintextJson = JSON.stringify({
      key_id: 'stripe-live',
      account: 'acme',
      note: 'an application setting, not an envelope',
    });
    for (const other of [
      '{"a":1}',
      '{"key_id":5}',
      '["key_id"]',
      '{"key_id":',
      'alice@example.com',
      '"key_id"',
      '',
      plaintextJson,
      variant({ key_id: 5 }),
    ]) {
      expect(looksLikeJsonKeyId(other)).toBe(false);
      expect(reader.keyIdOf(other)).toBeUndefined();
    }
  });

  it('reports an oversized key_id by a placeholder, never echoing it', () => {
    const long = 'x'.repeat(129);
    expect(jsonKeyIdOf(variant({ key_id: long }))).toBe(OVERSIZED_KEY_ID);
    expect(jsonKeyIdOf(variant({ key_id: 'k'.repeat(128) }))).toBe('k'.repeat(128));
  });

  it('writes the same layout (field order and encodings), which the reader and the format checks accept', async () => {
    const kek = randomBytes(32);
    const value = jsonKeyIdEncrypt(kek, 'kek-v3', KAT_PLAINTEXT);
    expect(Object.keys(JSON.parse(value) as object)).toEqual(Object.keys(JSON.parse(KAT) as object));
    expect((await new JsonKeyIdReader(() => kek).decrypt(value)).toString()).toBe(KAT_PLAINTEXT);
    expect(() => jsonKeyIdEncrypt(randomBytes(16), 'kek-v1', 'x')).toThrow(KeyMaterialError);
  });
});

describe('JsonKeyIdReader bad input', () => {
  const leaks = [KEK, DEK, KAT_PLAINTEXT];

  it.each([
    ['the nonce inside dek_wrapped', 'dek_wrapped', 0, 'data-key'],
    ['the wrapped DEK', 'dek_wrapped', 20, 'data-key'],
    ['the wrapped DEK tag', 'dek_wrapped', -1, 'data-key'],
    ['the nonce', 'nonce', 5, 'ciphertext'],
    ['the ciphertext', 'ciphertext', 0, 'ciphertext'],
    ['the tag', 'ciphertext', -1, 'ciphertext'],
  ] as const)(
    'refuses a value with a flipped bit in %s as an authentication failure',
    async (_what, field, offset, part) => {
      const err = await caughtAsync(() => reader.decrypt(flippedField(field, offset)));
      expect(err).toBeInstanceOf(LegacyAuthenticationError);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err).toMatchObject({ part, format: 'json-key-id', code: 'AUTHENTICATION_FAILED' });
      expectNoLeak(err, leaks);
    },
  );

  it('refuses a KEK that is not the one that wrote the value, naming the key id only', async () => {
    const wrongKek = randomBytes(32);
    const err = await caughtAsync(() => new JsonKeyIdReader(() => wrongKek).decrypt(KAT));
    expectError(err, AuthenticationError, /wrapped data key does not verify under "kek-v1"/);
    expectNoLeak(err, [...leaks, wrongKek]);
  });

  it('refuses an unknown key id with UnknownKeyError', async () => {
    const err = await caughtAsync(() => reader.decrypt(variant({ key_id: 'kek-v9' })));
    expect(err).toBeInstanceOf(UnknownKeyError);
    expect(err).toMatchObject({ keyId: 'kek-v9' });
  });

  it.each([
    ['not JSON', '{"key_id":"kek-v1",', /not a JSON object/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['version 2', variant({ version: 2 }), /version is 2, expected 1/],
    ['version as a string', variant({ version: '1' }), /version is "1", expected 1/],
    ['another alg', variant({ alg: 'AES-128-GCM' }), /alg is "AES-128-GCM", expected "AES-256-GCM"/],
    ['no dek_wrapped', variant({ dek_wrapped: undefined }), /dek_wrapped is missing/],
    ['a base64url nonce', variant({ nonce: 'sLGys7S1tre4ub-_' }), /nonce is not standard base64/],
    [
      'unpadded ciphertext',
      variant({ ciphertext: 'RZEHK/tVrSMDPy7ONguqDq8DLGNJoHURQfIdMlTjLVkHSA' }),
      /ciphertext is not standard base64/,
    ],
    ['a short nonce', variant({ nonce: Buffer.alloc(8).toString('base64') }), /nonce is 8 bytes, expected 12/],
    [
      'a truncated dek_wrapped',
      variant({ dek_wrapped: Buffer.alloc(59).toString('base64') }),
      /dek_wrapped is 59 bytes, expected 60/,
    ],
    [
      'a ciphertext shorter than its tag',
      variant({ ciphertext: Buffer.alloc(15).toString('base64') }),
      /ciphertext is 15 bytes, shorter than the 16-byte tag/,
    ],
    ['an empty key_id', variant({ key_id: '' }), /key_id is missing/],
  ])('refuses %s with a format error saying what is wrong', async (_what, value, message) => {
    const err = await caughtAsync(() => reader.decrypt(value));
    expectError(err, LegacyFormatError, message);
    expectNoLeak(err, leaks);
  });

  it('lists every problem of a malformed value at once', async () => {
    const err = await caughtAsync(() => reader.decrypt('{"key_id":"kek-v1","nonce":"!!","ciphertext":5,"alg":"DES"}'));
    expectError(
      err,
      LegacyFormatError,
      /version is missing.*alg is "DES".*dek_wrapped is missing.*nonce is not standard base64.*ciphertext is not standard base64/,
    );
  });
});
