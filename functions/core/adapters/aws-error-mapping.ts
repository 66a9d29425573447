import { AuthenticationError, KeyringUnavailableError } from '../crypto/errors';
import {
  KeyServiceAccessDeniedError,
  KeyServiceNotFoundError,
  KeyServiceRejectedError,
  type KeyServiceFailure,
} from '../crypto/keyrings/key-service-errors';

/**
 * Turns what the AWS SDK throws for KMS and Secrets Manager into rekey's
 * typed errors. The split that matters to callers is retryable or not: the
 * SDK client has already retried transient failures by the time one reaches
 * us, so KeyringUnavailableError tells the batch (or Lambda) to try later,
 * while everything else names what an operator has to fix.
 */

/** Error names both services use for transient trouble. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Node socket errors: the endpoint could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

const ACCESS_DENIED_NAMES = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation']);

/** The caller's credentials themselves are wrong: no policy change helps. */
const CREDENTIAL_NAMES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
]);

interface AwsLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function shape(err: unknown): AwsLikeError {
  return typeof err === 'object' && err !== null ? (err as AwsLikeError) : {};
}

function httpStatus(err: AwsLikeError): number | undefined {
  const status = err.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** True when `err` came from the SDK's service or transport layer (and so is ours to map). */
function isFromSdk(err: AwsLikeError): boolean {
  return err.$metadata !== undefined || err.$fault !== undefined;
}

/** The AWS error's name for a message; an error without one never reached the service ("network error"). */
export function awsErrorName(err: unknown): string {
  const name = shape(err).name;
  return typeof name === 'string' ? name : 'network error';
}

/** True for throttling, 5xx, timeouts and network failures. */
export function isTransientAwsError(err: unknown): boolean {
  const e = shape(err);
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = httpStatus(e);
  if (TRANSIENT_NAMES.has(name) || NETWORK_CODES.has(code) || NETWORK_CODES.has(name)) return true;
  if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return true;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return e.$fault === 'server';
}

export interface ServiceErrorHints {
  /** The IAM permission to name when access is denied, when it is not simply `service:Operation`. */
  readonly permission?: string;
  /** Extra words for not-found (e.g. `or has no version labelled AWSPENDING`). */
  readonly notFoundDetail?: string;
}

/**
 * The rekey error for an SDK failure of `failure.operation`. Errors that did
 * not come from the SDK (bugs in our code) are returned unchanged.
 */
export function mapAwsError(
  err: unknown,
  failure: Omit<KeyServiceFailure, 'awsErrorName'>,
  hints: ServiceErrorHints = {},
): unknown {
  const e = shape(err);
  const name = typeof e.name === 'string' ? e.name : undefined;
  const where = `${failure.service}:${failure.operation} on ${JSON.stringify(failure.resource)}`;
  if (isTransientAwsError(err)) {
    return new KeyringUnavailableError(`${where} failed transiently (${name ?? 'network error'}); retry later`, {
      cause: err,
    });
  }
  if (!isFromSdk(e)) return err;
  const full: KeyServiceFailure = { ...failure, awsErrorName: name };
  switch (name) {
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      // The ciphertext was altered, made under another key, or is being
      // decrypted with another encryption context: the same outcome as a
      // local AES-GCM tag mismatch.
      return new AuthenticationError('data-key', { cause: err });
    case 'NotFoundException':
    case 'ResourceNotFoundException':
      return new KeyServiceNotFoundError(full, { cause: err, detail: hints.notFoundDetail });
    case 'DisabledException':
    case 'KMSInvalidStateException':
      return new KeyServiceRejectedError(
        full,
        `the key is disabled or pending deletion (${name}): enable it or cancel its deletion`,
        { cause: err },
      );
    case 'DecryptionFailure':
      return new KeyServiceAccessDeniedError(full, {
        cause: err,
        permission: 'kms:Decrypt on the KMS key that encrypts this secret',
      });
    default:
      if (name !== undefined && CREDENTIAL_NAMES.has(name)) {
        return new KeyServiceRejectedError(
          full,
          `the AWS credentials are invalid or expired (${name}): check the credentials or role rekey runs with`,
          {
            cause: err,
          },
        );
      }
      if (name !== undefined && ACCESS_DENIED_NAMES.has(name)) {
        return new KeyServiceAccessDeniedError(full, { cause: err, permission: hints.permission });
      }
      if (httpStatus(e) === 403)
        return new KeyServiceAccessDeniedError(full, { cause: err, permission: hints.permission });
      return new KeyServiceRejectedError(
        full,
        `${name ?? 'error'}: ${typeof e.message === 'string' ? e.message : 'no message'}`,
        {
          cause: err,
        },
      );
  }
}
