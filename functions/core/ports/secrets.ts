/**
 * The narrow slice of AWS Secrets Manager that rekey uses: reading the keyset
 * secret (hierarchical keyring) and the four rotation steps (rotation hook).
 * `adapters/aws-secrets.ts` implements it over @aws-sdk/client-secrets-manager.
 *
 * Reads always name a version stage: without one, Secrets Manager (and moto)
 * may answer with a version other than the one the caller means.
 *
 * Errors (adapters map the SDK's): KeyringUnavailableError (retryable:
 * throttling, 5xx, network), KeyServiceNotFoundError (no such secret, or no
 * version carries the stage), KeyServiceAccessDeniedError,
 * KeyServiceRejectedError (not retryable; the message names the secret, the
 * operation and what to fix).
 */
export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export interface GetSecretValueInput {
  /** Secret name or ARN. */
  readonly secretId: string;
  /** Required on purpose: AWSCURRENT, AWSPENDING, AWSPREVIOUS or a custom label. */
  readonly versionStage: string;
  /** Optionally pin the version too (the rotation hook reads AWSPENDING of its own token). */
  readonly versionId?: string;
}

export interface SecretValue {
  readonly versionId: string;
  readonly string: string;
  readonly stages: readonly string[];
}

export interface PutSecretValueInput {
  readonly secretId: string;
  /** Idempotency token; the rotation hook passes the rotation's token so a re-run creates nothing new. */
  readonly clientRequestToken: string;
  readonly string: string;
  readonly versionStages: readonly string[];
}

export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  /** Every version that carries at least one stage, with its stages. */
  readonly versionIdsToStages: Readonly<Record<string, readonly string[]>>;
  readonly rotationEnabled: boolean;
}

export interface UpdateSecretVersionStageInput {
  readonly secretId: string;
  readonly versionStage: string;
  /** The version to attach the stage to. */
  readonly moveToVersionId?: string;
  /** The version that carries the stage now (required by Secrets Manager when one does). */
  readonly removeFromVersionId?: string;
}

export interface SecretsPort {
  getSecretValue(input: GetSecretValueInput): Promise<SecretValue>;
  putSecretValue(
    input: PutSecretValueInput,
  ): Promise<{ readonly versionId: string; readonly stages: readonly string[] }>;
  describeSecret(input: { readonly secretId: string }): Promise<SecretDescription>;
  updateSecretVersionStage(input: UpdateSecretVersionStageInput): Promise<void>;
}

export interface RotateSecretInput {
  readonly secretId: string;
  /** The new version's id (idempotency token): a retry with the same token starts nothing new. */
  readonly clientRequestToken: string;
}

/**
 * Starting a rotation (RotateSecret with the secret's configured rotation
 * function). Apart from SecretsPort: only the operator's CLI starts
 * rotations; the rotation hook and the keyrings never do.
 */
export interface SecretRotationStarter {
  /** Returns the version the rotation creates (staged AWSPENDING until finishSecret moves AWSCURRENT to it). */
  rotateSecret(input: RotateSecretInput): Promise<{ readonly versionId: string }>;
}
