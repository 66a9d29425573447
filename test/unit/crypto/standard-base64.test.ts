import { decodeStandardBase64 } from '../../../functions/core/crypto/standard-base64';

describe('decodeStandardBase64', () => {
  it('decodes canonical standard base64', () => {
    for (const bytes of [[], [0], [0, 1], [0, 1, 2], [251, 255, 191]]) {
      const b = Buffer.from(bytes);
      expect(decodeStandardBase64(b.toString('base64'))!.equals(b)).toBe(true);
    }
  });

  it.each([
    ['base64url alphabet', '-_8'],
    ['missing padding', 'AAE'],
    ['padding in the middle', 'AA==AAAA'],
    ['non-zero trailing bits', 'AAF='],
    ['whitespace', 'AAAA\n'],
    ['three pad characters', 'A==='],
  ])('refuses %s', (_name, text) => {
    expect(decodeStandardBase64(text)).toBeUndefined();
  });

  it('answers on many megabytes (no regex stack overflow)', () => {
    const big = Buffer.alloc(9_000_000, 7).toString('base64');
    expect(decodeStandardBase64(big)!.length).toBe(9_000_000);
    expect(decodeStandardBase64(big + '!')).toBeUndefined();
  });
});
