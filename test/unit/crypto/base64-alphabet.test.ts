import {
  firstOutsideBase64url,
  isBase64urlText,
  isPaddedBase64urlText,
  isStandardBase64Text,
  trailingPadding,
} from '../../../functions/core/crypto/base64-alphabet';
import { seededRandom } from '../../support/random';

// The regexes these loops replace: the reference they must agree with on short input.
const reference = {
  base64url: /^[A-Za-z0-9_-]+$/,
  padded: /^[A-Za-z0-9_-]+={0,2}$/,
  standard: /^[A-Za-z0-9+/]*={0,2}$/,
};
// Every class of character the checks tell apart, plus non-ASCII and a surrogate.
const PICK = 'Az09_-+/=!. \n\u00e9\u20ac\ud83d';

function randomTexts(count: number): string[] {
  const next = seededRandom(20261204);
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 9);
    let text = '';
    for (let i = 0; i < length; i++) text += PICK[Math.floor(next() * PICK.length)];
    return text;
  });
}

describe('base64 alphabet checks', () => {
  const texts = [...randomTexts(20_000), '', '=', '==', 'A===', 'AA==', '-_', '+/=='];

  it('isBase64urlText agrees with ^[A-Za-z0-9_-]+$', () => {
    const disagree = texts.filter((t) => isBase64urlText(t) !== reference.base64url.test(t));
    expect(disagree).toEqual([]);
  });

  it('isPaddedBase64urlText agrees with ^[A-Za-z0-9_-]+={0,2}$', () => {
    const disagree = texts.filter((t) => isPaddedBase64urlText(t) !== reference.padded.test(t));
    expect(disagree).toEqual([]);
  });

  it('isStandardBase64Text agrees with ^[A-Za-z0-9+/]*={0,2}$', () => {
    const disagree = texts.filter((t) => isStandardBase64Text(t) !== reference.standard.test(t));
    expect(disagree).toEqual([]);
  });

  it('firstOutsideBase64url gives the index String.search would', () => {
    const disagree = texts.filter((t) => firstOutsideBase64url(t) !== t.search(/[^A-Za-z0-9_-]/));
    expect(disagree).toEqual([]);
  });

  it('checks from an offset, and an empty rest is not base64url', () => {
    expect(isBase64urlText('rk1:AAAA', 4)).toBe(true);
    expect(isBase64urlText('rk1:', 4)).toBe(false);
    expect(firstOutsideBase64url('rk1:AA!A', 4)).toBe(6);
  });

  it('counts trailing padding', () => {
    expect([trailingPadding(''), trailingPadding('A'), trailingPadding('A=='), trailingPadding('===')]).toEqual([
      0, 0, 2, 3,
    ]);
  });
});
