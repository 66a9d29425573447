import { RekeyError } from '../../errors';
import { FOREIGN_FORMAT } from './formats';

/** Error codes of per-row problems found by the engine itself (crypto errors keep their own codes). */
export const ROW_ERROR = {
  /** A Fernet / JSON key_id value outside migrate mode. */
  legacyValue: 'LEGACY_VALUE',
  /** A plaintext value where an envelope was expected (outside encrypt mode). */
  unexpectedPlaintext: 'UNEXPECTED_PLAINTEXT',
  /** A value in another format than the table's (an rk1 envelope in a Fernet table, ...), outside migrate mode. */
  foreignFormat: FOREIGN_FORMAT,
  /** An error that is not a RekeyError (its message is not trusted to be free of data). */
  unexpected: 'UNEXPECTED_ERROR',
  /** The new value does not fit the column's varchar(n). */
  tooLong: 'VALUE_TOO_LONG',
} as const;

/** A message safe to store: a RekeyError's own (they never carry data), else only the error's class. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof RekeyError) return { code: err.code, message: err.message };
  const name = err instanceof Error ? err.name : typeof err;
  return { code: ROW_ERROR.unexpected, message: `unexpected ${name} (message withheld: it may quote data)` };
}
