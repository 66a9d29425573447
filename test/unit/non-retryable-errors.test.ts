import * as path from 'node:path';
import { NON_RETRYABLE_ERROR_NAMES } from '../../functions/core/non-retryable-errors';
import { errorClasses, neverRetryable } from '../support/error-classes';

const ROOT = path.resolve(__dirname, '../..');

describe('NON_RETRYABLE_ERROR_NAMES', () => {
  const classes = errorClasses(ROOT);

  it('is exactly the concrete error classes whose instances are never retryable', () => {
    expect([...NON_RETRYABLE_ERROR_NAMES].sort()).toEqual(neverRetryable(classes));
  });

  it('leaves out every class that is or may be retryable', () => {
    const retried = [
      'DatabaseConnectionError',
      'SerializationError',
      'KeyringUnavailableError',
      'QueueSendError',
      'RotationStepError',
      'ExecutionStartError',
      'KeyChangedConcurrentlyError',
    ];
    for (const name of retried) {
      expect(classes.map((c) => c.name)).toContain(name);
      expect(NON_RETRYABLE_ERROR_NAMES).not.toContain(name);
    }
  });

  it('names no abstract base class (nothing is thrown under its name)', () => {
    const abstract = classes.filter((c) => c.abstract).map((c) => c.name);
    expect(abstract).toEqual(expect.arrayContaining(['CryptoError', 'DatabaseError', 'HandlerError']));
    expect(NON_RETRYABLE_ERROR_NAMES.filter((n) => abstract.includes(n))).toEqual([]);
  });
});
