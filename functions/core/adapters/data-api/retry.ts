export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Ceiling of the first backoff in ms; it doubles per attempt. */
  readonly baseDelayMs: number;
  /** No backoff is longer than this. */
  readonly maxDelayMs: number;
}

/**
 * Runs `fn`, again after a backoff while `isTransient` says the failure may
 * pass, at most `maxAttempts` times. Full jitter (a random delay between 0 and
 * the exponential ceiling) keeps many workers that were throttled together
 * from coming back together.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  isTransient: (err: unknown) => boolean,
  policyOf: RetryPolicy | ((err: unknown) => RetryPolicy),
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      // The policy may depend on the failure: a cluster resuming from a pause needs longer than a throttle.
      const policy = typeof policyOf === 'function' ? policyOf(err) : policyOf;
      if (attempt >= policy.maxAttempts || !isTransient(err)) throw err;
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
