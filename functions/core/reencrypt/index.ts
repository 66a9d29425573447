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
export { loadRegistry, parseRegistry, selectTables, findTable, tableKey, DEFAULT_REGISTRY_FILE } from './registry';
export type { Registry, RegistryTable, EncryptMapping } from './registry';
export { checkAgainstDatabase, describeTable, TableShapeCache } from './table-shape';
export type { TableShape, IdType, StorageForm } from './table-shape';
export { MODES, isMode } from './modes';
export type { Mode } from './modes';
export { valueCryptoFrom, classifyStoredValue, blindIndexerFrom, UNREADABLE_KEY_ID } from './crypto-bridge';
export type { ValueCryptoOptions } from './crypto-bridge';
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
export type { EngineDeps } from './engine-deps';

export { createJob, planJob, validateJobRequest } from './jobs';
export type { JobRequest, PlanResult } from './jobs';
export { planTable, formatDryRun, RangeCutter } from './planner';
export type { TablePlan, PlannedRange } from './planner';
export { executeBatch, executeClaimedBatch, DEFAULT_LEASE_MS, DEFAULT_MAX_ATTEMPTS } from './batch-executor';
export type { ExecutorDeps, BatchResult, BatchCounts } from './batch-executor';
export { startJob, runJob, resumeJob } from './job-runner';
export {
  takeOverDeadLeases,
  describeForeignLease,
  LIVE_WORKER_PREFIX,
  LIVENESS_LOCK_NAMESPACE,
} from './lease-takeover';
export type { RunnerLiveness, LivenessHold, ForeignLease } from './lease-takeover';
export type { RunOptions, JobOutcome, JobProgress } from './job-runner';
export { jobProgress, settleBatchPhase, abortJob, markJobFailed, verifyJob, finalizeJob } from './job-phases';
export type { JobProgressState, BatchPhaseState, VerifyJobResult, FinalizeResult } from './job-phases';
export {
  getJob,
  getBatch,
  findJobByExecution,
  listJobs,
  listBatches,
  listRowErrors,
  batchStatusCounts,
  batchesToEnqueue,
  markBatchesEnqueued,
  countBatchesToEnqueue,
  batchIdOf,
  parseBatchId,
  isJobId,
} from './job-store';
export type { JobRecord, JobCounters, BatchRecord, BatchRef, RowErrorRecord, TablePlanSummary } from './job-store';
export { JOB_STATUSES, JOB_TRANSITIONS, isTerminal } from './job-status';
export type { JobStatus, BatchStatus } from './job-status';
export { errorRate, errorRateExceeded } from './error-rate';
export { verify, valuesUnderKey } from './verify';
export type { VerifyReport, VerifyOptions, TableVerify } from './verify';
export { retireVerifiedKeys } from './retire';
export type { RetireResult } from './retire';
export { rollback, rollbackTarget } from './rollback';
export type { RollbackRequest, RollbackOutcome } from './rollback';
export * from './errors';
