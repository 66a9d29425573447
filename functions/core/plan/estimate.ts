import type { KeyringKind } from '../crypto/keyring';
import type { Mode } from '../reencrypt/values/modes';
import type { KmsQuota } from './kms-quotas';
import { addOperations, noOperations, perValueKmsCalls, valuesMoving, type OperationCounts } from './operations';
import { PIPELINE_SHAPE, STATE_TRANSITIONS } from './pipeline-shape';
import type { PriceTable } from './prices';
import { recommend, type Recommendation } from './recommend';
import { mixedRate, runtimeTime, TASK_SECONDS } from './runtime-models';
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
  /**
   * This machine's speed now against the reference machine (speed-probe.ts):
   * the local runtime's fixed costs are divided by it. @default 1
   */
  readonly speedFactor?: number | undefined;
  /** local-state-machine: the run is its process's first, which imports the handlers. @default true */
  readonly coldStart?: boolean | undefined;
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
  /** Which time model the plan used, in words (the runtime it models and what it counts). */
  readonly model: string;
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
    /** Until the progress loop notices the last batch (the state machine's runners). */
    readonly pollingSeconds: number;
    /** The runtime's own work: task states, set-up (the state machine's runners; 0 for the CLI). */
    readonly runtimeSeconds: number;
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
/** Lambda event source pollers long-poll SQS (20 s waits) while the queue is watched; five at least. */
const SQS_IDLE_POLLERS = 5;

/**
 * The plan: what a job will do, call, take and cost, from the counts
 * planning made and the settings. Pure; every figure is explained in
 * docs/plan.md.
 */
export function buildPlan(tables: readonly TableCounts[], s: PlanSettings): RotationPlan {
  const { rowsTotal, rowsToChange, batches, operations } = totalCounts(tables);
  const perValue = perValueKmsCalls(s.keyring, operations);
  const kmsPerRow = rowsToChange > 0 ? perValue / rowsToChange : 0;

  const { engineRate, quotaRate, rate } = rowRates(s, operations, kmsPerRow);
  const batchPhaseSeconds = rowsToChange / rate;
  // Planning and verify each read the job's tables; the calibrated scan rate covers both.
  const scanSeconds = rowsTotal / Math.max(1e-9, s.throughput.scanRowsPerSecond);
  const runtime = runtimeTime(s, batchPhaseSeconds, rowsToChange > 0 ? batches : 0);
  const polls = runtime.polls;
  const seconds = batchPhaseSeconds + scanSeconds + runtime.pollingSeconds + runtime.runtimeSeconds;

  const keysetLoads = keysetLoadsFor(s, seconds);
  const kmsCalls = perValue + keysetLoads * s.keysetKeys;
  const secretsManagerCalls = keysetLoads;
  const aws =
    s.runner === 'state-machine'
      ? awsFigures(rowsTotal, batches, batchPhaseSeconds, scanSeconds, polls, tables.length, s)
      : null;

  const p = s.prices;
  const { lines, monthly } = costLines(kmsCalls, secretsManagerCalls, aws, s);

  const plan: Omit<RotationPlan, 'recommendations'> = {
    planVersion: 1,
    mode: s.mode,
    keyring: s.keyring,
    targetKeyId: s.targetKeyId,
    runner: s.runner,
    model: runtime.model,
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
    duration: {
      seconds,
      batchPhaseSeconds,
      scanSeconds,
      pollingSeconds: runtime.pollingSeconds,
      runtimeSeconds: runtime.runtimeSeconds,
    },
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

/** Rows, rows to change, batches and operations summed over the tables. */
function totalCounts(tables: readonly TableCounts[]): {
  rowsTotal: number;
  rowsToChange: number;
  batches: number;
  operations: ReturnType<typeof noOperations>;
} {
  const rowsTotal = sum(tables.map((t) => t.rowsTotal));
  const rowsToChange = sum(tables.map((t) => t.rowsPending));
  const batches = sum(tables.map((t) => t.batches));
  const operations = tables.reduce((a, t) => addOperations(a, t.operations), noOperations());
  return { rowsTotal, rowsToChange, batches, operations };
}

/** Rows/s of the engine for this mix of operations, of the KMS quota, and the lower of the two. */
function rowRates(
  s: PlanSettings,
  operations: ReturnType<typeof noOperations>,
  kmsPerRow: number,
): { engineRate: number; quotaRate: number; rate: number } {
  // The KMS quota bounds the rows/s of a keyring that calls KMS per value.
  const engineRate = Math.max(1e-9, mixedRate(s.throughput, operations));
  const quotaRate = kmsPerRow > 0 ? s.kmsQuota.perSecond / kmsPerRow : Number.POSITIVE_INFINITY;
  const rate = Math.min(engineRate, quotaRate);
  return { engineRate, quotaRate, rate };
}

/** Keyset loads: each worker (thread or Lambda container) loads the keyset at start and once per TTL; on AWS Verify loads it too. */
function keysetLoadsFor(s: PlanSettings, seconds: number): number {
  return s.keyring === 'hierarchical'
    ? s.concurrency * Math.max(1, Math.ceil(seconds / s.keysetTtlSeconds)) + (s.runner === 'state-machine' ? 1 : 0)
    : 0;
}

/** The job's cost per priced item, and the standing monthly cost of the keyring's resources. */
function costLines(
  kmsCalls: number,
  secretsManagerCalls: number,
  aws: ReturnType<typeof awsFigures> | null,
  s: PlanSettings,
): { lines: CostLine[]; monthly: CostLine[] } {
  const p = s.prices;
  const lines: CostLine[] = [
    costLine('KMS requests', kmsCalls, p.kmsRequest),
    costLine('Secrets Manager requests', secretsManagerCalls, p.secretsManagerRequest),
  ];
  if (aws) {
    lines.push(
      costLine('Lambda requests', aws.lambdaInvocations, p.lambdaRequest),
      costLine('Lambda GB-seconds', aws.lambdaGbSeconds, p.lambdaGbSecond),
      costLine('Step Functions state transitions', aws.stepFunctionsTransitions, p.stepFunctionsTransition),
      costLine('SQS requests', aws.sqsRequests, p.sqsRequest),
      costLine('Data API requests', aws.dataApiCalls, p.dataApiRequest),
    );
  }
  const monthly: CostLine[] = [];
  if (s.keyring !== 'raw') monthly.push(costLine('KMS keys (per month, whether or not a job runs)', 1, p.kmsKeyMonth));
  if (s.keyring === 'hierarchical') monthly.push(costLine('keyset secret (per month)', 1, p.secretMonth));
  return { lines, monthly };
}

function costLine(item: string, quantity: number, unitUsd: number): CostLine {
  return { item, quantity, unitUsd, usd: quantity * unitUsd };
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
