import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import { classifyValue, UNREADABLE_KEY_ID } from '../../../../functions/core/crypto/legacy/classify';
import { fernetEncrypt, FernetReader } from '../../../../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt, JsonKeyIdReader } from '../../../../functions/core/crypto/legacy/json-key-id';
import { PlaintextReader } from '../../../../functions/core/crypto/legacy/plaintext';
import type { LegacyReader } from '../../../../functions/core/crypto/legacy/reader';

const fernetKey = randomBytes(32).toString('base64url');
const fernetToken = fernetEncrypt(fernetKey, 'legacy secret');
const jsonValue = jsonKeyIdEncrypt(randomBytes(32), 'kek-v0', 'legacy secret');
const ctx = { table: 'users', column: 'api_key', rowId: '1' };

async function envelopes(): Promise<{ text: string; binary: Buffer }> {
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: randomBytes(32) }]) });
  return { text: await cipher.encrypt('s', ctx), binary: await cipher.encrypt(Buffer.from('s'), ctx) };
}

describe('classifyValue', () => {
  const readers = [FernetReader.fromKeys([fernetKey]), new JsonKeyIdReader(() => undefined), new PlaintextReader()];

  it('tells envelopes (with their key id), Fernet, JSON key_id, plaintext and NULL apart', async () => {
    const { text, binary } = await envelopes();
    expect(classifyValue(text, readers)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
    expect(classifyValue(binary, readers)).toEqual({ kind: 'envelope', keyId: 'kek-v1' });
    // With a Fernet reader, the id of the configured key whose HMAC verifies the token.
    const fernetKey = { kind: 'fernet', keyId: expect.stringMatching(/^fernet:[0-9a-f]{16}$/) as unknown };
    expect(classifyValue(fernetToken, readers)).toEqual(fernetKey);
    expect(classifyValue(Buffer.from(fernetToken), readers)).toEqual(fernetKey);
    expect(classifyValue(jsonValue, readers)).toEqual({ kind: 'json-key-id', keyId: 'kek-v0' });
    expect(classifyValue('alice@example.com', readers)).toEqual({ kind: 'plaintext' });
    expect(classifyValue(Buffer.from([0, 1, 2, 255]), readers)).toEqual({ kind: 'plaintext' });
    expect(classifyValue('', readers)).toEqual({ kind: 'plaintext' });
    expect(classifyValue(null, readers)).toEqual({ kind: 'null' });
    expect(classifyValue(undefined)).toEqual({ kind: 'null' });
  });

  it('keeps a damaged envelope an envelope, with a key id saying it could not be read', () => {
    const damaged = 'rk1:' + Buffer.from([1, 200, 1, 2, 3]).toString('base64url').padEnd(80, 'A');
    expect(classifyValue(damaged, readers)).toEqual({ kind: 'envelope', keyId: UNREADABLE_KEY_ID });
  });

  it('keeps truncated, re-versioned and non-base64 envelopes and cut JSON envelopes ciphertexts, never plaintext', async () => {
    const { text, binary } = await envelopes();
    const damagedEnvelopes = [
      text.slice(0, 40), // too short for isEnvelope
      `rk2:${text.slice(4)}`, // another version's prefix
      `rk1:${'!*'.repeat(30)}`, // not base64url
      `rk1:${binary.toString('base64')}==`, // padded standard base64
      'rk1:',
      binary.subarray(0, 20), // cut in the header
      binary.subarray(0, binary.length - 20),
      Buffer.concat([Buffer.from([2]), binary.subarray(1)]), // version byte 2
    ];
    for (const v of damagedEnvelopes)
      expect(classifyValue(v, readers)).toEqual({ kind: 'envelope', keyId: UNREADABLE_KEY_ID });
    expect(classifyValue(jsonValue.slice(0, 90), readers)).toEqual({ kind: 'json-key-id', keyId: undefined });
    // Plaintext that merely resembles them stays plaintext.
    for (const plain of [
      'rk1 notes',
      'rk:1',
      '{"key_id":"mine","name":"x"}',
      '{"key_id": "x", "dek_wrapped"',
      Buffer.from([0x08, 0x96, 0x01]),
      Buffer.from([1, 5, 0, 1, 2, 3, 4]),
    ]) {
      expect(classifyValue(plain, readers).kind).toBe(
        typeof plain === 'string' && plain.startsWith('{"key_id": "x", "dek') ? 'json-key-id' : 'plaintext',
      );
    }
  });

  it('recognizes legacy ciphertexts without their readers, so encrypt mode never wraps one as plaintext', () => {
    expect(classifyValue(fernetToken)).toEqual({ kind: 'fernet' });
    expect(classifyValue(jsonValue)).toEqual({ kind: 'json-key-id', keyId: 'kek-v0' });
  });

  it('asks the readers given first, in order', () => {
    const custom: LegacyReader = {
      format: 'json-key-id',
      recognizes: (v) => String(v).startsWith('legacy:'),
      keyIdOf: () => 'custom-1',
      decrypt: async () => Buffer.alloc(0),
    };
    expect(classifyValue('legacy:abc', [custom])).toEqual({ kind: 'json-key-id', keyId: 'custom-1' });
    expect(classifyValue('legacy:abc')).toEqual({ kind: 'plaintext' });
  });
});

describe('PlaintextReader', () => {
  const reader = new PlaintextReader();

  it('recognizes what is neither an envelope nor a legacy ciphertext', async () => {
    const { text, binary } = await envelopes();
    expect(reader.recognizes('alice@example.com')).toBe(true);
    expect(reader.recognizes(Buffer.from('{"name":"x"}'))).toBe(true);
    for (const notPlain of [text, binary, fernetToken, Buffer.from(fernetToken), jsonValue])
      expect(reader.recognizes(notPlain)).toBe(false);
  });

  it('returns the stored bytes as they are, in a copy', async () => {
    const stored = Buffer.from([0, 159, 146, 150]);
    const out = await reader.decrypt(stored);
    expect(out.equals(stored)).toBe(true);
    out[0] = 1;
    expect(stored[0]).toBe(0);
    expect((await reader.decrypt('pässwörd')).toString('utf8')).toBe('pässwörd');
    expect(reader.keyIdOf()).toBeUndefined();
  });
});
