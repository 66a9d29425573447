/**
 * True when `text` holds a lone UTF-16 surrogate (not well-formed Unicode):
 * UTF-8 would turn it into U+FFFD, so the bytes stored would not be the text
 * given. A loop, not `/\p{Cs}/u`: plaintexts are value-sized, and value-sized
 * input never goes to the regex engine (see base64-alphabet.ts).
 */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    if (unit >= 0xdc00) return true; // a low surrogate with no high one before it
    const next = text.charCodeAt(i + 1); // NaN past the end
    if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
    i++; // a whole pair
  }
  return false;
}
