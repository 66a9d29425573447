import { createSecretKey } from 'node:crypto';
import { open, seal, sealInto } from '../../../functions/core/crypto/aead';
import { AuthenticationError, KeyMaterialError } from '../../../functions/core/crypto/errors';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// The GCM specification (McGrew & Viega), test cases 13 and 16: AES-256.
const case16 = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  nonce: hex('cafebabefacedbaddecaf888'),
  plaintext: hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ),
  aad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  sealed: hex(
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
      '76fc6ece0f4e1768cddf8853bb2d551b',
  ),
};

describe('AES-256-GCM seal/open', () => {
  it('matches GCM spec test case 16 (key as Buffer and as KeyObject)', () => {
    expect(seal(case16.key, case16.nonce, case16.plaintext, case16.aad).equals(case16.sealed)).toBe(true);
    const ko = createSecretKey(case16.key);
    expect(seal(ko, case16.nonce, case16.plaintext, case16.aad).equals(case16.sealed)).toBe(true);
    expect(open(ko, case16.nonce, case16.sealed, case16.aad, 'ciphertext').equals(case16.plaintext)).toBe(true);
  });

  it('matches GCM spec test case 13 (empty plaintext, zero key)', () => {
    const sealed = seal(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(0), Buffer.alloc(0));
    expect(sealed.toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b');
    expect(open(Buffer.alloc(32), Buffer.alloc(12), sealed, Buffer.alloc(0), 'ciphertext').length).toBe(0);
  });

  it('sealInto writes ciphertext|tag at the offset and nothing else', () => {
    const out = Buffer.alloc(10 + case16.sealed.length + 5, 0xee);
    sealInto(case16.key, case16.nonce, case16.plaintext, case16.aad, out, 10);
    expect(out.subarray(10, 10 + case16.sealed.length).equals(case16.sealed)).toBe(true);
    expect(out.subarray(0, 10).every((b) => b === 0xee)).toBe(true);
    expect(out.subarray(-5).every((b) => b === 0xee)).toBe(true);
  });

  it.each([
    ['a ciphertext byte', (s: Buffer) => (s[0] = s[0]! ^ 1)],
    ['a tag byte', (s: Buffer) => (s[s.length - 1] = s[s.length - 1]! ^ 1)],
  ])('refuses %s altered, naming the part it was told', (_what, tamper) => {
    const sealed = Buffer.from(case16.sealed);
    tamper(sealed);
    expect(() => open(case16.key, case16.nonce, sealed, case16.aad, 'data-key')).toThrow(AuthenticationError);
    try {
      open(case16.key, case16.nonce, sealed, case16.aad, 'data-key');
    } catch (err) {
      expect((err as AuthenticationError).part).toBe('data-key');
    }
  });

  it('refuses other AAD, another nonce, a short tag', () => {
    expect(() => open(case16.key, case16.nonce, case16.sealed, Buffer.from('x'), 'ciphertext')).toThrow(
      AuthenticationError,
    );
    expect(() => open(case16.key, Buffer.alloc(12), case16.sealed, case16.aad, 'ciphertext')).toThrow(
      AuthenticationError,
    );
    expect(() => open(case16.key, case16.nonce.subarray(0, 8), case16.sealed, case16.aad, 'ciphertext')).toThrow(
      AuthenticationError,
    );
    expect(() => open(case16.key, case16.nonce, case16.sealed.subarray(0, 15), case16.aad, 'ciphertext')).toThrow(
      AuthenticationError,
    );
  });

  it('refuses keys that are not 32 bytes with KeyMaterialError, and nonces that are not 12 bytes', () => {
    expect(() => seal(Buffer.alloc(16), case16.nonce, case16.plaintext, case16.aad)).toThrow(KeyMaterialError);
    expect(() => open(Buffer.alloc(31), case16.nonce, case16.sealed, case16.aad, 'ciphertext')).toThrow(
      KeyMaterialError,
    );
    expect(() => seal(case16.key, Buffer.alloc(16), case16.plaintext, case16.aad)).toThrow(RangeError);
  });
});
