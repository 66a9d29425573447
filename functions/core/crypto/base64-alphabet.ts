/**
 * Alphabet checks for stored values, written as loops over char codes.
 *
 * Values reach these checks at any size (a column may hold megabytes), and
 * V8's regex engine can throw `RangeError: Maximum call stack size exceeded`
 * on a multi-megabyte subject even for `^[A-Za-z0-9_-]+$`: it happened in CI
 * on a 7 MB text envelope, once in many runs. A classifier that throws instead
 * of answering fails a whole batch, so value-sized input never goes to a regex.
 */

const URL_SAFE = table('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const STANDARD = table('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const PADDING = 0x3d; // '='

function table(alphabet: string): Uint8Array {
  const members = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) members[alphabet.charCodeAt(i)] = 1;
  return members;
}

function firstOutside(text: string, members: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || members[code] === 0) return i;
  }
  return -1;
}

/** Index of the first character of `text` (from `from`) outside [A-Za-z0-9_-], or -1 when there is none. */
export function firstOutsideBase64url(text: string, from = 0): number {
  return firstOutside(text, URL_SAFE, from, text.length);
}

/** Number of trailing `=` (any count), so callers can bound padding themselves. */
export function trailingPadding(text: string): number {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === PADDING) end--;
  return text.length - end;
}

/** True when `text` (from `from`) is one or more of [A-Za-z0-9_-] and nothing else: `^[A-Za-z0-9_-]+$`. */
export function isBase64urlText(text: string, from = 0): boolean {
  return text.length > from && firstOutsideBase64url(text, from) === -1;
}

/** True for one or more of [A-Za-z0-9_-], then at most two `=`: `^[A-Za-z0-9_-]+={0,2}$`. */
export function isPaddedBase64urlText(text: string): boolean {
  const padding = trailingPadding(text);
  const end = text.length - padding;
  return padding <= 2 && end > 0 && firstOutside(text, URL_SAFE, 0, end) === -1;
}

/** True for any number of [A-Za-z0-9+/], then at most two `=`: `^[A-Za-z0-9+/]*={0,2}$`. */
export function isStandardBase64Text(text: string): boolean {
  const padding = trailingPadding(text);
  return padding <= 2 && firstOutside(text, STANDARD, 0, text.length - padding) === -1;
}
