/**
 * The rotation plan: what a re-encryption job will change, call, take and
 * cost before it runs (docs/plan.md). `planRotation` plans a dry-run job and
 * estimates from its counts; `buildPlan` is the pure estimator.
 */
export { buildPlan, DATA_API_CALLS_PER_BATCH } from './estimate';
export type { RotationPlan, TableCounts, PlanSettings, AwsFigures, CostLine } from './estimate';
export { planRotation, planFromJob } from './plan-job';
export type { PlanOptions } from './plan-job';
export { formatPlan, formatSeconds } from './format';
export { DEFAULT_PRICES, pricesWith } from './prices';
export type { PriceTable } from './prices';
export { defaultKmsQuota, kmsQuota, KMS_QUOTA_SOURCE } from './kms-quotas';
export { chooseThroughput, batchSizeFactor, DEFAULT_ROWS_PER_SECOND, RUNNERS } from './throughput';
export type { Throughput, JobFigures, Runner } from './throughput';
export { recentJobFigures } from './history';
export { operationsFor, KMS_CALLS_PER_VALUE } from './operations';
export type { OperationCounts, Operation } from './operations';
export { LOCAL_RUNTIME_SHAPE, PIPELINE_SHAPE, STATE_TRANSITIONS, progressPolls } from './pipeline-shape';
export { LOCAL_RUNTIME_COSTS, localRuntimeTime } from './local-runtime';
export type { LocalRuntimeTime } from './local-runtime';
export { mixedRate } from './runtime-models';
export { runnerOf } from './history';
export * from './errors';
