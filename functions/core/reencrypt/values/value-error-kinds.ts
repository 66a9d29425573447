import type { Mode } from './modes';

/**
 * Which alarm a value's failure feeds: the runbooks watch encryption errors
 * (> 10 in 5 min) and decryption errors (> 5 in 5 min) separately, because
 * they mean different things — a bad key or tampered data on the way in to
 * a rotation, or a key the engine may not write under on the way out.
 * Values the mode cannot handle (legacy or plaintext where an envelope was
 * expected) are neither: they count as failed rows only.
 */
export type ValueErrorKind = 'decryption' | 'encryption' | 'other';

export interface ValueErrorCounts {
  readonly decryption: number;
  readonly encryption: number;
  readonly other: number;
}

const DECRYPTION = new Set([
  'AUTHENTICATION_FAILED',
  'ENVELOPE_FORMAT',
  'ENVELOPE_VERSION',
  'UNKNOWN_KEY',
  'KEY_DESTROYED',
  'INVALID_CONTEXT',
  'LEGACY_FORMAT',
  'KEY_MATERIAL',
]);

const ENCRYPTION = new Set(['KEY_NOT_ACTIVE', 'INVALID_PLAINTEXT', 'PLAINTEXT_NOT_UTF8', 'NO_BLIND_INDEXER']);

/**
 * The kind of a row error's code (codes of RekeyError subclasses and
 * ROW_ERROR). A value over the size limit is the plaintext being encrypted in
 * encrypt mode, and a stored envelope being read in every other mode.
 */
export function valueErrorKind(code: string, mode: Mode): ValueErrorKind {
  if (code === 'VALUE_TOO_LARGE') return mode === 'encrypt' ? 'encryption' : 'decryption';
  if (DECRYPTION.has(code)) return 'decryption';
  if (ENCRYPTION.has(code)) return 'encryption';
  return 'other';
}

export function countValueErrors(errors: readonly { readonly code: string }[], mode: Mode): ValueErrorCounts {
  const counts = { decryption: 0, encryption: 0, other: 0 };
  for (const e of errors) counts[valueErrorKind(e.code, mode)]++;
  return counts;
}
