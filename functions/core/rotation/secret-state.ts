import { AWSCURRENT, AWSPENDING, type SecretsPort } from '../ports/secrets';
import { RotationStateError } from './errors';
import type { RotationEvent } from './event';

/** Where the rotation stands, from DescribeSecret. */
export interface RotationState {
  readonly secretArn: string;
  readonly secretName: string;
  /** The stages of the token's version: AWSPENDING during the rotation; AWSCURRENT once promoted. */
  readonly tokenStages: readonly string[];
  /** True once finishSecret has moved AWSCURRENT to the token's version. */
  readonly tokenIsCurrent: boolean;
  /** The version that carries AWSCURRENT (the token's own, once promoted). */
  readonly currentVersionId: string | undefined;
}

/**
 * The checks AWS's rotation templates make before any step: the secret has
 * rotation enabled, the token is a version of it, and that version is staged
 * AWSPENDING (or already AWSCURRENT: a step re-run after the promotion).
 * Secrets Manager stages the token's (still empty) version AWSPENDING before
 * it calls createSecret, so a token it did not issue is refused here.
 */
export async function readRotationState(
  secrets: SecretsPort,
  event: RotationEvent,
  expectedSecretArn?: string,
): Promise<RotationState> {
  const description = await secrets.describeSecret({ secretId: event.SecretId });
  if (expectedSecretArn !== undefined && description.arn !== expectedSecretArn) {
    throw new RotationStateError(
      `this function rotates the keyset secret ${expectedSecretArn}; it was invoked for ${description.arn}`,
    );
  }
  if (!description.rotationEnabled) {
    throw new RotationStateError(
      `secret ${description.name} does not have rotation enabled: rotation steps run only for a secret with a rotation schedule`,
    );
  }
  const tokenStages = description.versionIdsToStages[event.ClientRequestToken];
  if (tokenStages === undefined) {
    throw new RotationStateError(
      `secret version ${event.ClientRequestToken} has no stage for rotation of secret ${description.name}: it is not a rotation Secrets Manager started`,
    );
  }
  const tokenIsCurrent = tokenStages.includes(AWSCURRENT);
  if (!tokenIsCurrent && !tokenStages.includes(AWSPENDING)) {
    throw new RotationStateError(
      `secret version ${event.ClientRequestToken} is not set as AWSPENDING for rotation of secret ${description.name} (its stages: ${tokenStages.length ? tokenStages.join(', ') : 'none'})`,
    );
  }
  const currentVersionId = Object.entries(description.versionIdsToStages).find(([, stages]) =>
    stages.includes(AWSCURRENT),
  )?.[0];
  return { secretArn: description.arn, secretName: description.name, tokenStages, tokenIsCurrent, currentVersionId };
}
