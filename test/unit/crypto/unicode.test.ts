import { hasLoneSurrogate } from '../../../functions/core/crypto/unicode';
import { seededRandom } from '../../support/random';

describe('hasLoneSurrogate', () => {
  it.each([
    ['empty', '', false],
    ['ASCII', 'plain', false],
    ['a pair', 'a\ud83d\ude00b', false],
    ['two pairs in a row', '\ud83d\ude00\ud83d\ude01', false],
    ['a high surrogate at the end', 'a\ud83d', true],
    ['a high surrogate before a letter', '\ud83da', true],
    ['a low surrogate first', '\ude00a', true],
    ['two high surrogates', '\ud83d\ud83d\ude00', true],
  ])('%s', (_name, text, expected) => {
    expect(hasLoneSurrogate(text)).toBe(expected);
  });

  it('agrees with /\\p{Cs}/u on random UTF-16', () => {
    const next = seededRandom(42);
    const units = [0x41, 0xe9, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83d, 0xde00];
    const disagree: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const text = String.fromCharCode(
        ...Array.from({ length: Math.floor(next() * 6) }, () => units[Math.floor(next() * units.length)]!),
      );
      if (hasLoneSurrogate(text) !== /\p{Cs}/u.test(text)) disagree.push(text);
    }
    expect(disagree).toEqual([]);
  });
});
