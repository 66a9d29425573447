/** The error a call throws (or rejects with), so a test can check its type and that its message leaks nothing. */
export function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to throw, and it returned');
}

export async function caughtAsync(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to reject, and it resolved');
}

/** Asserts that none of the secrets appears in the message, in the spellings a leak could take. */
export function expectNoLeak(err: Error, secrets: readonly (string | Buffer)[]): void {
  for (const secret of secrets) {
    const spellings =
      typeof secret === 'string'
        ? [secret]
        : [secret.toString('base64'), secret.toString('base64url'), secret.toString('hex')];
    for (const s of spellings) if (s.length > 0) expect(err.message).not.toContain(s);
  }
}

export function expectError(err: Error, type: abstract new (...args: never[]) => Error, message: RegExp): void {
  expect(err).toBeInstanceOf(type);
  expect(err.message).toMatch(message);
}
