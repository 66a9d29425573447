import { RekeyError, isRetryable } from '../errors';
import type { RotationStep } from './event';

/**
 * Base of the keyset rotation's errors. Messages name the step, the secret
 * and the key ids involved; never a keyset document, a wrapped or plaintext
 * KEK, or a probe value. Secrets Manager marks the rotation failed on any
 * error and calls the step again later; `retryable` tells operators (and
 * alarms) whether waiting can help.
 */
export abstract class RotationError extends RekeyError {}

/**
 * The invocation is refused: the secret's state does not allow this step
 * (rotation not enabled, the token is not a version of the secret or not
 * staged AWSPENDING, createSecret has not run, the new key id is taken in the
 * catalog). Not retryable: an operator has to look.
 */
export class RotationStateError extends RotationError {
  readonly code: string = 'ROTATION_STATE';
}

/** The rotation event itself is malformed (unknown Step, missing SecretId, bad token); lists every problem. */
export class RotationEventError extends RotationStateError {
  override readonly code: string = 'ROTATION_EVENT';

  constructor(readonly problems: readonly string[]) {
    super(`invalid rotation event: ${problems.join('; ')}`);
  }
}

/** The function's own configuration is incomplete (environment variables); names every missing one. */
export class RotationConfigError extends RotationError {
  readonly code = 'ROTATION_CONFIG';
}

/**
 * testSecret (or finishSecret's last check) found the pending keyset unfit to
 * promote: a current key missing or changed, a KEK that does not unwrap, a
 * round trip that fails. Not retryable: AWSCURRENT stays as it is.
 */
export class RotationSelfTestError extends RotationError {
  readonly code = 'ROTATION_SELF_TEST';
}

/**
 * A step failed on something outside the rotation's own rules (KMS, Secrets
 * Manager, the database, Step Functions). Keeps the cause and its retryable
 * flag: a throttled KMS call is retryable, a denied one is not.
 */
export class RotationStepError extends RotationError {
  readonly code = 'ROTATION_STEP_FAILED';
  override readonly retryable: boolean;

  constructor(
    readonly step: RotationStep,
    secret: string,
    cause: unknown,
  ) {
    super(`${step} of ${secret} failed: ${describeCause(cause)}`, { cause });
    this.retryable = isRetryable(cause);
  }
}

/**
 * The cause in a few words: rekey's errors by code and message (their
 * messages never hold values or keys), anything else by name and a bounded
 * message (SDK and driver messages name resources, not payloads).
 */
function describeCause(cause: unknown): string {
  if (cause instanceof RekeyError) return `${cause.code}: ${cause.message}`;
  if (cause instanceof Error)
    return `${cause.name}: ${cause.message.length > 300 ? `${cause.message.slice(0, 300)}...` : cause.message}`;
  return 'unknown error';
}
