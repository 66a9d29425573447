/**
 * Strict standard base64 (RFC 4648 §4: `+` `/`, `=` padding to a multiple of
 * four, zero trailing bits), as Rust's base64 STANDARD engine and AWS write
 * it. Checked in linear time without a backtracking regex: a grouped pattern
 * such as `^(?:[A-Za-z0-9+/]{4})*…$` overflows V8's regex stack on a few
 * megabytes of input and throws a RangeError instead of answering.
 */
const ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** The decoded bytes, or undefined when `text` is not canonical standard base64. */
export function decodeStandardBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !ALPHABET.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder is lenient (stray padding, non-zero trailing bits): only the canonical spelling round-trips.
  return bytes.toString('base64') === text ? bytes : undefined;
}
