/**
 * Root of every error rekey raises on purpose. Each module derives one base
 * class from it (CryptoError, CatalogError, ...), and each concrete error says
 * whether the operation that raised it may be retried as-is.
 *
 * Messages name what is wrong and where; they never carry plaintext or key
 * material.
 */
export abstract class RekeyError extends Error {
  /** Stable machine-readable code, e.g. `ENVELOPE_TRUNCATED`. */
  abstract readonly code: string;
  /** True when the same call may succeed later (throttling, network). */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True when `err` is a RekeyError that may be retried. */
export function isRetryable(err: unknown): boolean {
  return err instanceof RekeyError && err.retryable;
}
