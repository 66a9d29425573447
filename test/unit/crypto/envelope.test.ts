import {
  ENVELOPE_V1,
  MIN_ENVELOPE_BYTES,
  TEXT_PREFIX_V1,
  fromText,
  isEnvelope,
  parseEnvelope,
  peekKeyId,
  serializeEnvelope,
  toText,
  type EnvelopeV1,
} from '../../../functions/core/crypto/envelope';
import { dataAad, wrapAad } from '../../../functions/core/crypto/envelope-aad';
import { EnvelopeFormatError, UnsupportedVersionError } from '../../../functions/core/crypto/errors';

const sample: EnvelopeV1 = {
  version: ENVELOPE_V1,
  keyId: 'kek-v2',
  wrappedKey: Buffer.alloc(60, 0x11),
  nonce: Buffer.alloc(12, 0x22),
  sealed: Buffer.concat([Buffer.from('ciphertext'), Buffer.alloc(16, 0x33)]),
};

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof EnvelopeFormatError) return err.reason;
    if (err instanceof UnsupportedVersionError) return `version ${err.version}`;
    throw err;
  }
  return undefined;
}

describe('envelope v1 layout', () => {
  it('serializes to version | key id length | key id | u16 wrapped length | wrapped | nonce | sealed', () => {
    const b = serializeEnvelope(sample);
    expect(b[0]).toBe(0x01);
    expect(b[1]).toBe(6);
    expect(b.toString('ascii', 2, 8)).toBe('kek-v2');
    expect(b.readUInt16BE(8)).toBe(60);
    expect(b.subarray(10, 70).equals(sample.wrappedKey)).toBe(true);
    expect(b.subarray(70, 82).equals(sample.nonce)).toBe(true);
    expect(b.subarray(82).equals(sample.sealed)).toBe(true);
    expect(b.length).toBe(2 + 6 + 2 + 60 + 12 + sample.sealed.length);
  });

  it('parses what it serializes, from binary and from text', () => {
    const b = serializeEnvelope(sample);
    for (const form of [b, toText(b)]) {
      const e = parseEnvelope(form);
      expect(e.keyId).toBe('kek-v2');
      expect(e.wrappedKey.equals(sample.wrappedKey)).toBe(true);
      expect(e.nonce.equals(sample.nonce)).toBe(true);
      expect(e.sealed.equals(sample.sealed)).toBe(true);
    }
  });

  it('text form is rk1: + unpadded base64url of the binary form', () => {
    const b = serializeEnvelope(sample);
    const t = toText(b);
    expect(t.startsWith(TEXT_PREFIX_V1)).toBe(true);
    expect(t.slice(4)).toBe(b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
    expect(fromText(t).equals(b)).toBe(true);
  });

  it('accepts KMS-style key ids (ARN, alias) up to 255 characters', () => {
    for (const keyId of [
      'arn:aws:kms:eu-west-1:123456789012:key/3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      'alias/app+x=y@z',
      'k'.repeat(255),
    ]) {
      expect(peekKeyId(serializeEnvelope({ ...sample, keyId }))).toBe(keyId);
    }
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'kek v2'],
    ['with a comma', 'kek,v2'],
    ['non-ASCII', 'kék'],
  ])('refuses a key id that is %s', (_what, keyId) => {
    expect(reasonOf(() => serializeEnvelope({ ...sample, keyId }))).toBe('bad-field');
  });

  it('refuses out-of-range fields when serializing', () => {
    expect(reasonOf(() => serializeEnvelope({ ...sample, nonce: Buffer.alloc(11) }))).toBe('bad-field');
    expect(reasonOf(() => serializeEnvelope({ ...sample, sealed: Buffer.alloc(15) }))).toBe('bad-field');
    expect(reasonOf(() => serializeEnvelope({ ...sample, wrappedKey: Buffer.alloc(0) }))).toBe('bad-field');
    expect(reasonOf(() => serializeEnvelope({ ...sample, wrappedKey: Buffer.alloc(65536) }))).toBe('bad-field');
  });

  it('needs at least 34 bytes (1-byte key id and wrapped key, empty plaintext)', () => {
    const smallest = serializeEnvelope({
      ...sample,
      keyId: 'k',
      wrappedKey: Buffer.alloc(1),
      sealed: Buffer.alloc(16),
    });
    expect(smallest.length).toBe(MIN_ENVELOPE_BYTES);
    expect(parseEnvelope(smallest).sealed.length).toBe(16);
    expect(reasonOf(() => parseEnvelope(smallest.subarray(0, 33)))).toBe('truncated');
  });

  it('names the reason for each kind of malformed binary', () => {
    const b = serializeEnvelope(sample);
    expect(reasonOf(() => parseEnvelope(Buffer.alloc(0)))).toBe('empty');
    expect(reasonOf(() => parseEnvelope(Buffer.concat([Buffer.from([7]), b.subarray(1)])))).toBe('version 7');
    const zeroKeyId = Buffer.from(b);
    zeroKeyId[1] = 0;
    expect(reasonOf(() => parseEnvelope(zeroKeyId))).toBe('bad-field');
    const zeroWrapped = Buffer.from(b);
    zeroWrapped.writeUInt16BE(0, 8);
    expect(reasonOf(() => parseEnvelope(zeroWrapped))).toBe('bad-field');
    const controlInKeyId = Buffer.from(b);
    controlInKeyId[3] = 0x0a;
    expect(reasonOf(() => parseEnvelope(controlInKeyId))).toBe('bad-field');
    const hugeWrapped = Buffer.from(b);
    hugeWrapped.writeUInt16BE(5000, 8);
    expect(reasonOf(() => parseEnvelope(hugeWrapped))).toBe('truncated');
  });

  it('names the reason for each kind of malformed text', () => {
    const t = toText(serializeEnvelope(sample));
    expect(reasonOf(() => fromText(''))).toBe('empty');
    expect(reasonOf(() => fromText('rk1:'))).toBe('empty');
    expect(reasonOf(() => fromText('hello'))).toBe('bad-prefix');
    expect(reasonOf(() => fromText('RK1:' + t.slice(4)))).toBe('bad-prefix');
    expect(reasonOf(() => fromText('rk2:' + t.slice(4)))).toBe('version 2');
    expect(reasonOf(() => fromText(t + '='))).toBe('not-base64');
    expect(reasonOf(() => fromText(t.slice(0, 20) + ' ' + t.slice(21)))).toBe('not-base64');
    const toOneMod4 = (((1 - (t.length - 4)) % 4) + 4) % 4 || 4; // characters to append so the body length is 1 mod 4
    expect(reasonOf(() => fromText(t + 'A'.repeat(toOneMod4)))).toBe('not-base64');
    expect(reasonOf(() => fromText(' ' + t))).toBe('bad-prefix');
    expect(reasonOf(() => fromText(t + '\n'))).toBe('not-base64');
  });

  it('accepts only the canonical spelling of the last base64url character', () => {
    // A 104-byte binary → 139 characters: the last one carries 2 unused bits.
    const b = serializeEnvelope({ ...sample, sealed: Buffer.alloc(22, 0x44) });
    expect(b.length).toBe(104);
    const t = toText(b);
    expect((t.length - 4) % 4).toBe(3);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(t[t.length - 1]!);
    const sibling = t.slice(0, -1) + alphabet[last ^ 1];
    expect(Buffer.from(sibling.slice(4), 'base64url').equals(b)).toBe(true); // Node would accept it...
    expect(reasonOf(() => fromText(sibling))).toBe('not-base64'); // ...rekey does not
  });

  it('isEnvelope: true for both forms, false (never a throw) for other things', () => {
    const b = serializeEnvelope(sample);
    expect(isEnvelope(b)).toBe(true);
    expect(isEnvelope(toText(b))).toBe(true);
    for (const other of [
      '',
      'rk1:',
      's3cret',
      'gAAAAABl' + 'x'.repeat(80),
      '{"key_id":"k1"}',
      Buffer.alloc(0),
      Buffer.from('plain'),
      b.subarray(0, 40),
    ]) {
      expect(isEnvelope(other)).toBe(false);
    }
    expect(isEnvelope(null as unknown as string)).toBe(false);
    expect(isEnvelope(42 as unknown as string)).toBe(false);
  });

  it('isEnvelope false implies parseEnvelope throws (every text prefix length of a real envelope)', () => {
    const t = toText(serializeEnvelope(sample));
    for (let n = 0; n <= t.length; n++) {
      const cut = t.slice(0, n);
      if (!isEnvelope(cut)) expect(() => parseEnvelope(cut)).toThrow();
    }
  });

  it('peekKeyId reads the key id without keys', () => {
    expect(peekKeyId(toText(serializeEnvelope(sample)))).toBe('kek-v2');
    expect(() => peekKeyId('nope')).toThrow(EnvelopeFormatError);
  });

  it('toText refuses an empty value and a non-v1 binary', () => {
    expect(reasonOf(() => toText(Buffer.alloc(0)))).toBe('empty');
    expect(reasonOf(() => toText(Buffer.from([2, 1, 2, 3])))).toBe('version 2');
  });
});

describe('authenticated data', () => {
  const ctx = { table: 'users', column: 'email', rowId: '42' };

  it('wrap AAD = "w" | version | key id length | key id | context', () => {
    const a = wrapAad(1, 'kek-v1', ctx);
    expect(a[0]).toBe(0x77);
    expect(a[1]).toBe(1);
    expect(a[2]).toBe(6);
    expect(a.toString('ascii', 3, 9)).toBe('kek-v1');
  });

  it('data AAD = "d" | version | context, without the key id (so rewrap keeps the ciphertext valid)', () => {
    const d = dataAad(1, ctx);
    expect(d[0]).toBe(0x64);
    expect(d[1]).toBe(1);
    expect(d.subarray(2).equals(wrapAad(1, 'kek-v1', ctx).subarray(9))).toBe(true);
    expect(d.includes(Buffer.from('kek'))).toBe(false);
  });

  it('every input changes it', () => {
    const base = wrapAad(1, 'kek-v1', ctx).toString('hex');
    expect(wrapAad(2, 'kek-v1', ctx).toString('hex')).not.toBe(base);
    expect(wrapAad(1, 'kek-v2', ctx).toString('hex')).not.toBe(base);
    for (const field of ['table', 'column', 'rowId'] as const) {
      expect(wrapAad(1, 'kek-v1', { ...ctx, [field]: ctx[field] + 'x' }).toString('hex')).not.toBe(base);
    }
    expect(wrapAad(1, 'kek-v1', { ...ctx, tenant: 'acme' }).toString('hex')).not.toBe(base);
    expect(dataAad(1, { ...ctx, tenant: 'acme' }).equals(dataAad(1, ctx))).toBe(false);
  });
});
