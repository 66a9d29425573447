import type { KeyringKind } from '../crypto/keyring';
import type { Mode } from '../reencrypt/values/modes';
import type { KmsQuota } from './kms-quotas';
import { addOperations, noOperations, perValueKmsCalls, valuesMoving, type OperationCounts } from './operations';
import { PIPELINE_SHAPE, STATE_TRANSITIONS, progressPolls, secondsAfterPolls } from './pipeline-shape';
import type { PriceTable } from './prices';
import { recommend, type Recommendation } from './recommend';
import type { Runner, Throughput } from './throughput';

/** One table as planning counted it. */
export interface TableCounts {
  readonly table: string;
  readonly rowsTotal: number;
  readonly rowsPending: number;
  readonly batches: number;
  readonly operations: OperationCounts;
}

export interface PlanSettings {
  readonly mode: Mode;
  readonly keyring: KeyringKind;
  readonly targetKeyId: string;
  readonly runner: Runner;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly kmsQuota: KmsQuota;
  readonly prices: PriceTable;
  readonly throughput: Throughput;
  /** hierarchical: KEKs in the keyset (one KMS Decrypt each per load). */
  readonly keysetKeys: number;
  /** hierarchical: seconds a loaded keyset is used before it is fetched again. */
  readonly keysetTtlSeconds: number;
  /** How the per-operation counts were made: `inventory` (every value classified) or `pending rows`. */
  readonly counted: 'inventory' | 'pending rows';
  /** Throughput of the same settings with another batch size / concurrency, for the recommendations. */
  readonly alternatives?: { readonly batchSize2000?: Throughput; readonly rewrap?: Throughput } | undefined;
}

export interface AwsFigures {
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly stepFunctionsTransitions: number;
  readonly sqsRequests: number;
  readonly dataApiCalls: number;
  readonly progressPolls: number;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unitUsd: number;
  readonly usd: number;
}

export interface RotationPlan {
  readonly planVersion: 1;
  readonly mode: Mode;
  readonly keyring: KeyringKind;
  readonly targetKeyId: string;
  readonly runner: Runner;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly counted: 'inventory' | 'pending rows';
  readonly tables: readonly (TableCounts & { readonly kmsCalls: number })[];
  readonly total: {
    readonly rowsTotal: number;
    readonly rowsToChange: number;
    readonly batches: number;
    readonly operations: OperationCounts;
    readonly kmsCalls: number;
    readonly secretsManagerCalls: number;
    readonly keysetLoads: number;
    readonly aws: AwsFigures | null;
  };
  readonly throughput: Throughput & {
    /** Rows/s the plan uses: the engine's, or lower when the KMS quota bounds it. */
    readonly effectiveRowsPerSecond: number;
    readonly limitedBy: 'engine' | 'kms-quota';
    readonly kmsQuotaPerSecond: number;
    readonly kmsQuotaFrom: string;
    /** KMS requests per second the job would make at that rate. */
    readonly kmsRequestsPerSecond: number;
  };
  readonly duration: {
    readonly seconds: number;
    readonly batchPhaseSeconds: number;
    readonly scanSeconds: number;
    readonly pollingSeconds: number;
  };
  readonly cost: {
    readonly usd: number;
    readonly lines: readonly CostLine[];
    readonly monthlyUsd: number;
    readonly monthly: readonly CostLine[];
    readonly prices: { readonly date: string; readonly source: string; readonly region: string };
  };
  readonly recommendations: readonly Recommendation[];
}

/**
 * Data API requests per batch on the Lambda path (claim, paged reads, the
 * compare-and-swap write and the counters, with their Begin/CommitTransaction):
 * measured by test/integration/plan/data-api-calls.test.ts — 12 for a default
 * batch of 2,000 ~150-byte envelopes through the RDSDataClient.
 */
export const DATA_API_CALLS_PER_BATCH = 12;
/** Data API statements per CheckProgress (settle + counters) and per other task, roughly. */
export const DATA_API_CALLS_PER_TASK = 4;
/** Rows per counting slice of the Plan / Verify scans on the Data API (planner.ts COUNT_SLICE_ROWS). */
const SCAN_ROWS_PER_STATEMENT = 500_000;
/** Seconds a task function runs besides scanning (cold start, Data API round trips). */
const TASK_SECONDS = 1;
/** Lambda event source pollers long-poll SQS (20 s waits) while the queue is watched; five at least. */
const SQS_IDLE_POLLERS = 5;

/**
 * The plan: what a job will do, call, take and cost, from the counts
 * planning made and the settings. Pure; every figure is explained in
 * docs/plan.md.
 */
export function buildPlan(tables: readonly TableCounts[], s: PlanSettings): RotationPlan {
  const rowsTotal = sum(tables.map((t) => t.rowsTotal));
  const rowsToChange = sum(tables.map((t) => t.rowsPending));
  const batches = sum(tables.map((t) => t.batches));
  const operations = tables.reduce((a, t) => addOperations(a, t.operations), noOperations());
  const perValue = perValueKmsCalls(s.keyring, operations);
  const kmsPerRow = rowsToChange > 0 ? perValue / rowsToChange : 0;

  // The KMS quota bounds the rows/s of a keyring that calls KMS per value.
  const engineRate = Math.max(1e-9, s.throughput.rowsPerSecond);
  const quotaRate = kmsPerRow > 0 ? s.kmsQuota.perSecond / kmsPerRow : Number.POSITIVE_INFINITY;
  const rate = Math.min(engineRate, quotaRate);
  const batchPhaseSeconds = rowsToChange / rate;
  // Planning and verify each read the job's tables; the calibrated scan rate covers both.
  const scanSeconds = rowsTotal / Math.max(1e-9, s.throughput.scanRowsPerSecond);
  const polls = s.runner === 'state-machine' ? (rowsToChange > 0 ? progressPolls(batchPhaseSeconds) : 0) : 0;
  // The state machine notices the end at its next poll, not when the last batch finishes.
  const pollingSeconds =
    s.runner === 'state-machine' ? Math.max(0, secondsAfterPolls(polls) - batchPhaseSeconds) + 6 * TASK_SECONDS : 0;
  const seconds = batchPhaseSeconds + scanSeconds + pollingSeconds;

  // Each worker (thread or Lambda container) loads the keyset at start and once per TTL; on AWS Verify loads it too.
  const keysetLoads =
    s.keyring === 'hierarchical'
      ? s.concurrency * Math.max(1, Math.ceil(seconds / s.keysetTtlSeconds)) + (s.runner === 'state-machine' ? 1 : 0)
      : 0;
  const kmsCalls = perValue + keysetLoads * s.keysetKeys;
  const secretsManagerCalls = keysetLoads;
  const aws =
    s.runner === 'state-machine'
      ? awsFigures(rowsTotal, batches, batchPhaseSeconds, scanSeconds, polls, tables.length, s)
      : null;

  const p = s.prices;
  const line = (item: string, quantity: number, unitUsd: number): CostLine => ({
    item,
    quantity,
    unitUsd,
    usd: quantity * unitUsd,
  });
  const lines: CostLine[] = [
    line('KMS requests', kmsCalls, p.kmsRequest),
    line('Secrets Manager requests', secretsManagerCalls, p.secretsManagerRequest),
  ];
  if (aws) {
    lines.push(
      line('Lambda requests', aws.lambdaInvocations, p.lambdaRequest),
      line('Lambda GB-seconds', aws.lambdaGbSeconds, p.lambdaGbSecond),
      line('Step Functions state transitions', aws.stepFunctionsTransitions, p.stepFunctionsTransition),
      line('SQS requests', aws.sqsRequests, p.sqsRequest),
      line('Data API requests', aws.dataApiCalls, p.dataApiRequest),
    );
  }
  const monthly: CostLine[] = [];
  if (s.keyring !== 'raw') monthly.push(line('KMS keys (per month, whether or not a job runs)', 1, p.kmsKeyMonth));
  if (s.keyring === 'hierarchical') monthly.push(line('keyset secret (per month)', 1, p.secretMonth));

  const plan: Omit<RotationPlan, 'recommendations'> = {
    planVersion: 1,
    mode: s.mode,
    keyring: s.keyring,
    targetKeyId: s.targetKeyId,
    runner: s.runner,
    batchSize: s.batchSize,
    concurrency: s.concurrency,
    counted: s.counted,
    tables: tables.map((t) => ({ ...t, kmsCalls: perValueKmsCalls(s.keyring, t.operations) })),
    total: { rowsTotal, rowsToChange, batches, operations, kmsCalls, secretsManagerCalls, keysetLoads, aws },
    throughput: {
      ...s.throughput,
      effectiveRowsPerSecond: rowsToChange > 0 ? rate : engineRate,
      limitedBy: quotaRate < engineRate ? 'kms-quota' : 'engine',
      kmsQuotaPerSecond: s.kmsQuota.perSecond,
      kmsQuotaFrom: s.kmsQuota.from,
      kmsRequestsPerSecond: kmsPerRow * rate,
    },
    duration: { seconds, batchPhaseSeconds, scanSeconds, pollingSeconds },
    cost: {
      usd: sum(lines.map((l) => l.usd)),
      lines,
      monthlyUsd: sum(monthly.map((l) => l.usd)),
      monthly,
      prices: { date: p.date, source: p.source, region: p.region },
    },
  };
  return { ...plan, recommendations: recommend(plan, s) };
}

function awsFigures(
  rowsTotal: number,
  batches: number,
  batchSeconds: number,
  scanSeconds: number,
  polls: number,
  tableCount: number,
  s: PlanSettings,
): AwsFigures {
  const shape = PIPELINE_SHAPE;
  const enqueues = Math.max(1, Math.ceil(batches / shape.enqueueBatchesPerInvocation));
  const workerInvocations = Math.ceil(batches / shape.workerBatchSize);
  const checks = 1 + polls;
  const tasks = 2 + enqueues + checks + 2; // ValidateInput, Plan, Enqueue…, CheckProgress…, Verify, Finalize
  const taskSeconds = tasks * TASK_SECONDS + scanSeconds;
  const gb = (mib: number): number => mib / 1024;
  const scanStatements =
    2 * tableCount * Math.max(1, Math.ceil(rowsTotal / SCAN_ROWS_PER_STATEMENT)) + Math.ceil(batches / 2000);
  return {
    lambdaInvocations: tasks + workerInvocations,
    lambdaGbSeconds: taskSeconds * gb(shape.taskMemoryMiB) + batchSeconds * s.concurrency * gb(shape.workerMemoryMiB),
    stepFunctionsTransitions:
      STATE_TRANSITIONS.fixed + enqueues * STATE_TRANSITIONS.perEnqueue + polls * STATE_TRANSITIONS.perPoll,
    sqsRequests:
      Math.ceil(batches / shape.messagesPerSendBatch) +
      2 * workerInvocations +
      Math.ceil((SQS_IDLE_POLLERS * batchSeconds) / 20),
    dataApiCalls: batches * DATA_API_CALLS_PER_BATCH + tasks * DATA_API_CALLS_PER_TASK + scanStatements,
    progressPolls: polls,
  };
}

/** A dry run through the state machine: ReadInput, ValidateInput, Plan, IsDryRun, DryRunReport. */
export const DRY_RUN_TRANSITIONS = STATE_TRANSITIONS.dryRun;

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export { valuesMoving };
