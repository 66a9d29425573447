/**
 * The re-encryption engine: what the CLI, the Lambda handlers and the
 * benchmark call. Domain only: it talks to PostgreSQL through the Sql port and
 * to keys through ValueCrypto (crypto-bridge.ts wires the real cipher).
 *
 * Typical use:
 *
 * ```ts
 * const registry = loadRegistry();                       // ./rekey.config.json
 * await checkAgainstDatabase(sql, registry);             // every mismatch at once
 * const deps: EngineDeps = { sql, registry, crypto: valueCryptoFrom({ cipher, legacyReaders }), catalog, audit };
 * const outcome = await startJob(deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'alice' }, { concurrency: 2, onProgress });
 * // queue worker: await executeBatch(deps, jobId, { table, seq });
 * ```
 */
export {
  loadRegistry,
  parseRegistry,
  selectTables,
  findTable,
  tableKey,
  DEFAULT_REGISTRY_FILE,
} from './config/registry';
export type { Registry, RegistryTable, EncryptMapping } from './config/registry';
export { checkAgainstDatabase, describeTable, TableShapeCache } from './sql/table-shape';
export type { TableShape, IdType, StorageForm } from './sql/table-shape';
export { MODES, isMode } from './values/modes';
export type { Mode } from './values/modes';
export { valueCryptoFrom, classifyStoredValue, blindIndexerFrom, UNREADABLE_KEY_ID } from './values/crypto-bridge';
export type { ValueCryptoOptions } from './values/crypto-bridge';
export type {
  ValueCrypto,
  ValueClass,
  StoredValue,
  BlindIndexer,
  KeyLifecycle,
  AuditSink,
  AuditEvent,
  FaultHook,
  FaultSite,
} from './ports';
export type { EngineDeps, ExecutorDeps } from './ports';

export { createJob, planJob, validateJobRequest } from './jobs/jobs';
export type { JobRequest, PlanResult } from './jobs/jobs';
export { planTable, formatDryRun } from './batches/planner';
export { RangeCutter } from './batches/range-cutter';
export type { TablePlan } from './batches/planner';
export type { PlannedRange } from './batches/range-cutter';
export { executeBatch, executeClaimedBatch, DEFAULT_LEASE_MS, DEFAULT_MAX_ATTEMPTS } from './batches/batch-executor';
export type { BatchResult } from './batches/batch-executor';
export type { BatchCounts } from './store/batch-leases';
export { startJob, runJob, resumeJob } from './jobs/job-runner';
export {
  takeOverDeadLeases,
  describeForeignLease,
  LIVE_WORKER_PREFIX,
  LIVENESS_LOCK_NAMESPACE,
} from './jobs/lease-takeover';
export type { RunnerLiveness, LivenessHold, ForeignLease } from './jobs/lease-takeover';
export type { RunOptions, JobOutcome, JobProgress } from './jobs/job-runner';
export { jobProgress, settleBatchPhase, abortJob, markJobFailed, verifyJob, finalizeJob } from './jobs/job-phases';
export type { JobProgressState, BatchPhaseState, VerifyJobResult, FinalizeResult } from './jobs/job-phases';
export { getJob, findJobByExecution, listJobs, isJobId } from './store/jobs-table';
export {
  getBatch,
  listBatches,
  batchStatusCounts,
  batchesToEnqueue,
  markBatchesEnqueued,
  countBatchesToEnqueue,
} from './store/batches-table';
export { listRowErrors } from './store/row-errors-table';
export { batchIdOf, parseBatchId } from './store/batch-ids';
export type { JobRecord, JobCounters, TablePlanSummary } from './store/jobs-table';
export type { BatchRecord } from './store/batches-table';
export type { BatchRef } from './store/batch-ids';
export type { RowErrorRecord } from './store/row-errors-table';
export { JOB_STATUSES, JOB_TRANSITIONS, isTerminal } from './jobs/job-status';
export type { JobStatus, BatchStatus } from './jobs/job-status';
export { errorRate, errorRateExceeded } from './jobs/error-rate';
export { verify } from './verify/verify';
export { valuesUnderKey } from './verify/key-counts';
export type { VerifyReport, VerifyOptions, TableVerify } from './verify/verify';
export { retireVerifiedKeys } from './verify/retire';
export type { RetireResult } from './verify/retire';
export { rollback, rollbackTarget } from './verify/rollback';
export type { RollbackRequest, RollbackOutcome } from './verify/rollback';
export * from './errors';
