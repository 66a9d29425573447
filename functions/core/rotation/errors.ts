import { RekeyError } from '../errors';

/** Base of the keyset rotation's errors. */
export abstract class RotationError extends RekeyError {}

/** The rotation event or the secret's state does not allow this step (not retryable: Secrets Manager marks the rotation failed). */
export class RotationStateError extends RotationError {
  readonly code = 'ROTATION_STATE';
}

/** testSecret found the pending keyset unusable: a key missing, a KEK that does not unwrap, a failed round trip. */
export class RotationSelfTestError extends RotationError {
  readonly code = 'ROTATION_SELF_TEST';
}
