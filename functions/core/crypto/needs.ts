import { EnvelopeFormatError, type EnvelopeFormatReason } from './errors';

/**
 * Precondition checks, after the AWS Encryption SDK for JavaScript: each check
 * in the parsers is tagged `/* Precondition: <what must hold>. *\/` right above
 * its `needs` call, and test/unit/crypto has a test with the same title
 * (test/unit/crypto/preconditions.test.ts fails on a tag without one).
 *
 * The message may be a function so that a check on the per-value path builds
 * no string unless it fails.
 */
export function needs(
  condition: unknown,
  reason: EnvelopeFormatReason,
  message: string | (() => string),
): asserts condition;
/** Throws the error `failure` builds (another class of the module: UnsupportedVersionError, OversizeError, ...). */
export function needs(condition: unknown, failure: () => Error): asserts condition;
export function needs(
  condition: unknown,
  reasonOrFailure: EnvelopeFormatReason | (() => Error),
  message?: string | (() => string),
): asserts condition {
  if (condition) return;
  if (typeof reasonOrFailure === 'function') throw reasonOrFailure();
  throw new EnvelopeFormatError(reasonOrFailure, typeof message === 'function' ? message() : (message ?? ''));
}
