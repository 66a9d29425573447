import { CryptoError } from '../errors';

/**
 * Errors of the remote key services (KMS, Secrets Manager) that are not worth
 * retrying. Each names the service operation, the key or secret it was about
 * and what an operator has to change. Transient failures (throttling, 5xx,
 * network) are KeyringUnavailableError instead; a ciphertext or encryption
 * context that KMS refuses is AuthenticationError('data-key').
 */
export type KeyService = 'kms' | 'secretsmanager';

export interface KeyServiceFailure {
  readonly service: KeyService;
  /** The API operation, e.g. `Decrypt`, `GetSecretValue`. */
  readonly operation: string;
  /** The KMS key id/ARN/alias or the secret name/ARN the call was about. */
  readonly resource: string;
  /** The AWS error name (`AccessDeniedException`, ...), when the service gave one. */
  readonly awsErrorName?: string;
}

abstract class KeyServiceError extends CryptoError {
  readonly service: KeyService;
  readonly operation: string;
  readonly resource: string;
  readonly awsErrorName: string | undefined;

  constructor(failure: KeyServiceFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.service = failure.service;
    this.operation = failure.operation;
    this.resource = failure.resource;
    this.awsErrorName = failure.awsErrorName;
  }

  /** `kms:Decrypt`, `secretsmanager:GetSecretValue`: the IAM action of the failed call. */
  get action(): string {
    return `${this.service}:${this.operation}`;
  }
}

/** IAM or a key/resource policy refused the call. */
export class KeyServiceAccessDeniedError extends KeyServiceError {
  readonly code = 'KEY_SERVICE_ACCESS_DENIED';

  constructor(failure: KeyServiceFailure, options?: { cause?: unknown; permission?: string }) {
    const action = `${failure.service}:${failure.operation}`;
    const permission = options?.permission ?? action;
    super(
      failure,
      `${action} on ${describe(failure)} was denied (${failure.awsErrorName ?? 'access denied'}): ` +
        `allow ${permission} on it for the role rekey runs as (IAM policy` +
        (failure.service === 'kms' ? ', key policy and any kms:EncryptionContext condition)' : ' and resource policy)'),
      options,
    );
  }
}

/** The KMS key, alias or secret does not exist (in this account and region), or no version carries the stage. */
export class KeyServiceNotFoundError extends KeyServiceError {
  readonly code = 'KEY_SERVICE_NOT_FOUND';

  constructor(failure: KeyServiceFailure, options?: { cause?: unknown; detail?: string }) {
    super(
      failure,
      `${failure.service}:${failure.operation}: ${describe(failure)} was not found` +
        (options?.detail ? ` ${options.detail}` : '') +
        `: check the ${failure.service === 'kms' ? 'key id, ARN or alias' : 'secret name or ARN'} and the region`,
      options,
    );
  }
}

/** The service refused the request for a reason that will not pass by retrying (disabled key, bad parameter, ...). */
export class KeyServiceRejectedError extends KeyServiceError {
  readonly code = 'KEY_SERVICE_REJECTED';

  constructor(failure: KeyServiceFailure, reason: string, options?: { cause?: unknown }) {
    super(failure, `${failure.service}:${failure.operation} on ${describe(failure)} was rejected: ${reason}`, options);
  }
}

function describe(failure: KeyServiceFailure): string {
  const noun = failure.service === 'kms' ? 'KMS key' : 'secret';
  return `${noun} ${JSON.stringify(failure.resource)}`;
}
