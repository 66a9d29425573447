import { RDSDataClient } from '@aws-sdk/client-rds-data';
import type { SqlLimits } from '../../ports/sql';
import { DATA_API_MAX_REQUEST_BYTES, DATA_API_MAX_RESPONSE_BYTES } from './batch';
import { isResumingError, isTransientDataApiError, RESUMING_ATTEMPTS } from './errors';
import { mapDataApiError } from './error-mapping';
import { withRetry, type RetryPolicy } from './retry';

export interface DataApiSqlOptions {
  /** @default a new RDSDataClient with the SDK's own retries off (this adapter retries) */
  readonly client?: RDSDataClient;
  /** ARN of the Aurora cluster (Data API enabled). */
  readonly resourceArn: string;
  /** ARN of the Secrets Manager secret holding the database credentials. */
  readonly secretArn: string;
  readonly database: string;
  /** Passed to the Data API as is; it documents `schema` as unsupported for PostgreSQL (use the role's search_path). */
  readonly schema?: string;
  /** Size limit of one BatchExecuteStatement request, headers included. @default 4 MiB (the service's limit) */
  readonly maxBatchBytes?: number;
  /** Size limit of one result, which the engine sizes its reads to. @default 1 MiB (the service's limit) */
  readonly maxResponseBytes?: number;
  /**
   * Attempts for transient errors (throttling, a briefly unavailable writer).
   * A cluster resuming from a pause (DatabaseResumingException) gets
   * RESUMING_ATTEMPTS with five times the backoff (about 30 s in all, what
   * an Aurora Serverless v2 resume from 0 ACUs takes).
   * @default 6
   */
  readonly maxAttempts?: number;
  /** Ceiling of the first backoff in ms; doubles per attempt, full jitter, capped at 5 s. @default 200 */
  readonly baseDelayMs?: number;
}

/** What every Data API call of one adapter shares: the client, where it points, the limits and the retrying call. */
export interface DataApiSession {
  readonly client: RDSDataClient;
  /** Whether the adapter made the client (and so destroys it on close). */
  readonly ownsClient: boolean;
  readonly target: { readonly resourceArn: string; readonly secretArn: string };
  readonly database: { readonly database: string; readonly schema?: string };
  readonly limits: SqlLimits;
  /** Sends with retries on transient errors; a failure comes back mapped to a DatabaseError naming `operation`. */
  call<T>(operation: string, send: () => Promise<T>, isTransient?: (err: unknown) => boolean): Promise<T>;
}

/** The session of a new adapter: options resolved to their defaults once. */
export function openSession(options: DataApiSqlOptions): DataApiSession {
  // One retry policy, not the SDK's and ours multiplied: the SDK would also retry a 500, after which a statement may have run twice.
  const client = options.client ?? new RDSDataClient({ maxAttempts: 1 });
  const policy = retryPolicies(options);
  return {
    client,
    ownsClient: options.client === undefined,
    target: { resourceArn: options.resourceArn, secretArn: options.secretArn },
    database: { database: options.database, ...(options.schema ? { schema: options.schema } : {}) },
    limits: {
      maxRequestBytes: options.maxBatchBytes ?? DATA_API_MAX_REQUEST_BYTES,
      maxResponseBytes: options.maxResponseBytes ?? DATA_API_MAX_RESPONSE_BYTES,
    },
    call: async (operation, send, isTransient = isTransientDataApiError) => {
      try {
        return await withRetry(send, isTransient, policy);
      } catch (err) {
        throw mapDataApiError(err, operation);
      }
    },
  };
}

/** The usual policy, and a longer one for a cluster resuming from a pause. */
function retryPolicies(options: DataApiSqlOptions): (err: unknown) => RetryPolicy {
  const baseDelayMs = options.baseDelayMs ?? 200;
  const usual: RetryPolicy = { maxAttempts: options.maxAttempts ?? 6, baseDelayMs, maxDelayMs: 5_000 };
  const resuming: RetryPolicy = {
    maxAttempts: Math.max(usual.maxAttempts, RESUMING_ATTEMPTS),
    baseDelayMs: baseDelayMs * 5,
    maxDelayMs: Math.min(5_000, baseDelayMs * 25),
  };
  return (err) => (isResumingError(err) ? resuming : usual);
}
