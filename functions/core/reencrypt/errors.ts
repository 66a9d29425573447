import { RekeyError } from '../errors';

/**
 * Base of every error the re-encryption engine raises. Per-row failures
 * (tampered value, unknown key, bad legacy token) are NOT thrown out of a
 * batch: they are recorded in `rekey_row_errors` and the batch goes on. What
 * is thrown is about the job itself: a bad registry, a job in the wrong state,
 * a lease another worker took over.
 */
export abstract class ReencryptError extends RekeyError {}

/** One problem in a registry of encrypted columns, with the path of the offending value. */
export interface RegistryProblem {
  /** e.g. `tables[1].idColumn` */
  readonly path: string;
  readonly message: string;
}

/** The registry (rekey.config.json) is invalid, or does not match the database. Lists every problem at once. */
export class RegistryError extends ReencryptError {
  readonly code = 'REGISTRY_INVALID';
  constructor(
    readonly problems: readonly RegistryProblem[],
    readonly source = 'registry',
    options?: { cause?: unknown },
  ) {
    super(
      `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'),
      options,
    );
  }
}

/** Options given to a job (mode, batch size, error rate, tables) are invalid. */
export class JobOptionsError extends ReencryptError {
  readonly code = 'JOB_OPTIONS_INVALID';
}

/** No job with this id. */
export class JobNotFoundError extends ReencryptError {
  readonly code = 'JOB_NOT_FOUND';
  constructor(readonly jobId: string) {
    super(`no re-encryption job with id ${JSON.stringify(jobId)}`);
  }
}

/** A job status change that the lifecycle does not allow (e.g. completed → running). */
export class JobStateError extends ReencryptError {
  readonly code = 'JOB_STATE';
  constructor(
    readonly jobId: string,
    readonly from: string,
    readonly to: string,
    detail?: string,
  ) {
    super(`job ${jobId}: cannot go from ${from} to ${to}${detail ? ` (${detail})` : ''}`);
  }
}

/** The batch is not in the job, or its lease passed to another worker: this worker must drop its result. */
export class BatchLeaseLostError extends ReencryptError {
  readonly code = 'BATCH_LEASE_LOST';
  constructor(
    readonly jobId: string,
    readonly table: string,
    readonly seq: number,
  ) {
    super(`job ${jobId}: batch ${table}#${seq} is no longer leased to this worker; its result was discarded`);
  }
}

/** The batch reference names no batch of this job (a stale or forged queue message). */
export class BatchNotFoundError extends ReencryptError {
  readonly code = 'BATCH_NOT_FOUND';
  constructor(
    readonly jobId: string,
    readonly table: string,
    readonly seq: number,
  ) {
    super(
      seq < 0
        ? `job ${jobId}: ${JSON.stringify(table)} is not a batch id (table#seq)`
        : `job ${jobId} has no batch ${table}#${seq}`,
    );
  }
}

/** A key operation of retire/rollback is not possible in the catalog's current state. */
export class KeyLifecycleError extends ReencryptError {
  readonly code = 'KEY_LIFECYCLE';
}

/** A blind index column is configured but the engine was given no blind index key (recorded per row). */
export class NoBlindIndexerError extends ReencryptError {
  readonly code = 'NO_BLIND_INDEXER';
}

/** A table's format needs a Fernet / JSON key_id writer the engine was not given (recorded per row). */
export class NoLegacyWriterError extends ReencryptError {
  readonly code = 'NO_LEGACY_WRITER';
}

/** A fault injected by a test hook (`deps.faults`), standing for a crash at that point. */
export class InjectedFaultError extends ReencryptError {
  readonly code = 'INJECTED_FAULT';
  override readonly retryable = true;
  constructor(readonly point: string) {
    super(`injected fault at ${point}`);
  }
}
