/**
 * The CloudWatch metrics rekey emits, in one place: workers and handlers emit
 * them with Powertools Metrics, and the CDK alarms and dashboard read them.
 * A name changed on one side only would leave an alarm watching nothing, so
 * both sides import these constants. Plain values, no imports: safe anywhere.
 */

/** Powertools `POWERTOOLS_METRICS_NAMESPACE` of every rekey function. */
export const METRICS_NAMESPACE = 'Rekey';

/** Powertools adds this dimension to every metric; its value is `POWERTOOLS_SERVICE_NAME`. */
export const SERVICE_DIMENSION = 'service';

/** `POWERTOOLS_SERVICE_NAME` of every rekey function: one value, so alarms see one series per metric. */
export const SERVICE_NAME = 'rekey';

export const MetricNames = {
  /** Rows moved to the target key by a batch (Count). */
  RowsReencrypted: 'RowsReencrypted',
  /** Rows that failed and were recorded in rekey_row_errors (Count). */
  RowsFailed: 'RowsFailed',
  /** Rows already in the target state, or changed by an application meanwhile (Count). */
  RowsSkipped: 'RowsSkipped',
  /** Wall time of one batch (Milliseconds). */
  BatchDurationMs: 'BatchDurationMs',
  /** KMS API calls made (Count). */
  KmsCalls: 'KmsCalls',
  /** Values that failed to encrypt (Count). */
  EncryptionErrors: 'EncryptionErrors',
  /** Values that failed to decrypt or authenticate (Count). */
  DecryptionErrors: 'DecryptionErrors',
  /** Keyset rotations that finished (Count, 1 per rotation). */
  RotationSucceeded: 'RotationSucceeded',
  /** Keyset rotations that failed (Count, 1 per failed rotation). */
  RotationFailed: 'RotationFailed',
  /** Wall time of a keyset rotation (Milliseconds). */
  RotationDurationMs: 'RotationDurationMs',
  /** Rows per key version per table, from the daily inventory (Count; dimensions `table`, `keyId`). */
  RowsOnKey: 'RowsOnKey',
  /**
   * Rows still under a key that has been `rotating` for longer than the grace
   * period (env RETIRING_KEY_GRACE_DAYS), summed over tables, from the daily
   * inventory (Count; no extra dimension, so one alarm can watch it whatever
   * the key ids are).
   */
  RowsOnOverdueRetiringKeys: 'RowsOnOverdueRetiringKeys',
  /** Jobs aborted because failed rows passed maxErrorRate (Count). */
  JobAborted: 'JobAborted',
} as const;

export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];

/** Extra dimensions of RowsOnKey. */
export const INVENTORY_DIMENSIONS = { table: 'table', keyId: 'keyId' } as const;
