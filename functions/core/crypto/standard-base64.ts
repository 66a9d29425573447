import { isStandardBase64Text } from './base64-alphabet';

/**
 * Strict standard base64 (RFC 4648 §4: `+` `/`, `=` padding to a multiple of
 * four, zero trailing bits), as Rust's base64 STANDARD engine and AWS write
 * it. Checked by a loop, never a regex: V8's regex engine can overflow its
 * stack on a few megabytes of input and throw a RangeError instead of
 * answering (base64-alphabet.ts).
 */

/** The decoded bytes, or undefined when `text` is not canonical standard base64. */
export function decodeStandardBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !isStandardBase64Text(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder is lenient (stray padding, non-zero trailing bits): only the canonical spelling round-trips.
  return bytes.toString('base64') === text ? bytes : undefined;
}
