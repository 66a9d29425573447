import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EncryptionContext } from '../../functions/core/crypto/context';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { fromText, parseEnvelope, peekKeyId, serializeEnvelope, toText } from '../../functions/core/crypto/envelope';
import * as errors from '../../functions/core/crypto/errors';
import { RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import { StaticKeyPolicy, type KeyState } from '../../functions/core/crypto/key-policy';

/**
 * The committed known-answer vectors of envelope format v1 must decrypt with
 * every build, forever; the negative ones must fail with the same error class.
 * Never edit envelope-v1.json to make this pass.
 */
interface VectorFile {
  keys: { id: string; base64: string }[];
  vectors: {
    name: string;
    keyId: string;
    context: EncryptionContext;
    plaintextHex: string;
    envelopeText: string;
    envelopeHex: string;
  }[];
  negative: {
    name: string;
    context: EncryptionContext;
    envelopeText?: string;
    envelopeHex?: string;
    destroyedKeys?: string[];
    expect: { class: string; reason?: string; part?: string };
  }[];
}

const FILE = join(__dirname, 'envelope-v1.json');
const data = JSON.parse(readFileSync(FILE, 'utf8')) as VectorFile;
const keyring = new RawKeyring(data.keys.map((k) => ({ id: k.id, key: Buffer.from(k.base64, 'base64') })));

function cipherWith(destroyed: readonly string[] = []): EnvelopeCipher {
  // kek-v2 active, kek-v1 retired: both decrypt, as after a rotation.
  const states: KeyState[] = data.keys.map((k) => ({
    id: k.id,
    status: destroyed.includes(k.id) ? 'destroyed' : k.id === 'kek-v2' ? 'active' : 'retired',
  }));
  return new EnvelopeCipher({ keyring, policy: new StaticKeyPolicy(states) });
}

describe('envelope v1 known-answer vectors', () => {
  const cipher = cipherWith();

  it('the file holds the promised cases', () => {
    const names = data.vectors.map((v) => v.name).join('\n');
    expect(names).toMatch(/empty plaintext/);
    expect(names).toMatch(/unicode/);
    expect(names).toMatch(/1 KiB/);
    expect(data.vectors.some((v) => v.context.tenant)).toBe(true);
    expect(data.vectors.some((v) => v.context.tenant == null)).toBe(true);
    expect(data.negative.length).toBeGreaterThanOrEqual(20);
  });

  describe.each(data.vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const binary = Buffer.from(v.envelopeHex, 'hex');
    const plaintext = Buffer.from(v.plaintextHex, 'hex');

    it('decrypts from the text form', async () => {
      expect((await cipher.decrypt(v.envelopeText, v.context)).equals(plaintext)).toBe(true);
    });

    it('decrypts from the binary form', async () => {
      expect((await cipher.decrypt(binary, v.context)).equals(plaintext)).toBe(true);
    });

    it('text and binary forms are the same envelope, and re-serialize byte for byte', () => {
      expect(fromText(v.envelopeText).equals(binary)).toBe(true);
      expect(toText(binary)).toBe(v.envelopeText);
      expect(serializeEnvelope(parseEnvelope(binary)).equals(binary)).toBe(true);
      expect(peekKeyId(v.envelopeText)).toBe(v.keyId);
    });
  });

  it('rewrap keeps nonce and ciphertext: the rewrapped vector shares them with its source', () => {
    const source = parseEnvelope(
      Buffer.from(data.vectors.find((v) => v.name === 'short ASCII, no tenant')!.envelopeHex, 'hex'),
    );
    const rewrapped = parseEnvelope(
      Buffer.from(data.vectors.find((v) => v.name.includes('rewrapped'))!.envelopeHex, 'hex'),
    );
    expect(rewrapped.keyId).toBe('kek-v2');
    expect(rewrapped.nonce.equals(source.nonce)).toBe(true);
    expect(rewrapped.sealed.equals(source.sealed)).toBe(true);
    expect(rewrapped.wrappedKey.equals(source.wrappedKey)).toBe(false);
  });

  describe.each(data.negative.map((n) => [n.name, n] as const))('negative: %s', (_name, n) => {
    it(`fails with ${n.expect.class}${n.expect.reason ? ` (${n.expect.reason})` : ''}${n.expect.part ? ` (${n.expect.part})` : ''}`, async () => {
      const envelope = n.envelopeText ?? Buffer.from(n.envelopeHex!, 'hex');
      const err = await cipherWith(n.destroyedKeys)
        .decrypt(envelope, n.context)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      const expected = (errors as unknown as Record<string, new (...a: never[]) => Error>)[n.expect.class];
      expect(expected).toBeDefined();
      expect(err).toBeInstanceOf(expected);
      if (n.expect.reason) expect(err).toHaveProperty('reason', n.expect.reason);
      if (n.expect.part) expect(err).toHaveProperty('part', n.expect.part);
    });
  });

  it('an independent implementation (Python cryptography, test/vectors/check_envelope_v1.py) agrees', () => {
    const run = spawnSync('python3', [join(__dirname, 'check_envelope_v1.py'), FILE], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stdout + run.stderr).toContain(
      `ok: ${data.vectors.length} vectors decrypt, ${data.negative.length} negative vectors`,
    );
    expect(run.status).toBe(0);
  });
});
