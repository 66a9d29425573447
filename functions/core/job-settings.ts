import { PIPELINE_SHAPE } from './plan/pipeline-shape';

/**
 * The re-encryption job's defaults and bounds, in one place: the engine
 * (createJob), ValidateInput (the execution input and its JSON schema), the
 * CDK pipeline (its tunable props and the defaults it hands the state machine)
 * and the CLI (flags and help text) all import them, so a default changed here
 * changes everywhere at once. Plain values and one validation function, no
 * CDK or AWS import: safe in lib/ and in every Lambda bundle.
 */

/** What a job uses when its request (or the execution input, or the stack's `pipeline` props) says nothing. */
export const JOB_DEFAULTS = {
  /** Rows per batch (one SQS message = one batch); docs/performance.md has the measurements behind it. */
  batchSize: 2000,
  /** Abort when failed rows pass this share of the attempted rows (the runbooks' "> 1 % of records fail"). */
  maxErrorRate: 0.01,
  /** Attempted rows before the error rate is judged while the job runs (so one bad row in the first batch does not abort it). */
  abortMinRows: 1000,
  /** Upper bound on the tables one execution input may name (keeps the payload small). */
  maxTablesPerExecution: 100,
  /** Batches one Enqueue invocation sends (SendMessageBatch of 10 → 1,000 calls, well inside its timeout). */
  enqueueBatchesPerInvocation: PIPELINE_SHAPE.enqueueBatchesPerInvocation,
  /** `rekey reencrypt --concurrency`: worker threads of the CLI, each with its own connection. */
  cliThreads: 1,
  /** Concurrent batch loops of the job runner in one process (the CLI's main thread, the library's runJob). */
  runnerConcurrency: 2,
} as const;

/** An integer or number setting's allowed range; `hint` explains the unit in messages. */
export interface SettingBound {
  readonly kind: 'integer' | 'number';
  readonly min: number;
  /** No upper bound when absent. */
  readonly max?: number;
  readonly hint?: string;
}

/**
 * The allowed range of every tunable job and pipeline setting. Service limits
 * are named where they come from: the event source mapping's maximumConcurrency
 * (2–1000), SQS's 10 messages per Lambda batch and 1,000 receives.
 */
export const JOB_BOUNDS = {
  batchSize: { kind: 'integer', min: 1, max: 100_000 },
  maxErrorRate: { kind: 'number', min: 0, max: 1, hint: '0.01 = 1 %' },
  abortMinRows: { kind: 'integer', min: 0 },
  enqueueBatchesPerInvocation: { kind: 'integer', min: 1, max: 100_000 },
  /** Lambda event source mapping `maximumConcurrency` (also the CLI plan's `--concurrency` for the state machine). */
  maxConcurrency: { kind: 'integer', min: 2, max: 1000 },
  /** SQS event source: at most 10 messages per invocation. */
  workerBatchSize: { kind: 'integer', min: 1, max: 10 },
  /** SQS redrive policy: maxReceiveCount 1–1000. */
  maxReceiveCount: { kind: 'integer', min: 1, max: 1000 },
  progressMinWaitSeconds: { kind: 'integer', min: 1, max: 3600 },
  progressMaxWaitSeconds: { kind: 'integer', min: 1, max: 86_400 },
  retiringKeyGraceDays: { kind: 'integer', min: 1, max: 3650 },
  workerReservedConcurrency: { kind: 'integer', min: 1, max: 10_000 },
  /** `rekey reencrypt --concurrency`: worker threads. */
  cliThreads: { kind: 'integer', min: 1, max: 64 },
} as const satisfies Readonly<Record<string, SettingBound>>;

export type JobSettingName = keyof typeof JOB_BOUNDS;

/** What a setting must be, for a message: "an integer from 1 to 100000", "a number from 0 to 1 (0.01 = 1 %)". */
export function describeBound(bound: SettingBound): string {
  const what = bound.kind === 'integer' ? 'integer' : 'number';
  const range =
    bound.max !== undefined
      ? `a${what === 'integer' ? 'n' : ''} ${what} from ${bound.min} to ${bound.max}`
      : bound.min === 0
        ? `a non-negative ${what}`
        : `a${what === 'integer' ? 'n' : ''} ${what} of at least ${bound.min}`;
  return bound.hint ? `${range} (${bound.hint})` : range;
}

/** True when `value` lies within `bound` (a non-number never does). */
export function withinBound(value: unknown, bound: SettingBound): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (bound.kind === 'integer' && !Number.isInteger(value)) return false;
  return value >= bound.min && (bound.max === undefined || value <= bound.max);
}

/** One setting out of bounds: the setting's name and what is wrong with it. */
export interface SettingProblem {
  readonly setting: JobSettingName;
  readonly problem: string;
}

/**
 * Every setting given in `values` checked against JOB_BOUNDS, in the order
 * given; undefined values are skipped (the caller applies defaults first when
 * a default must be checked too). `show` renders the value in the message.
 */
export function jobSettingProblems(
  values: Partial<Readonly<Record<JobSettingName, unknown>>>,
  show: (value: unknown) => string = (value) => JSON.stringify(value) ?? String(value),
): SettingProblem[] {
  const problems: SettingProblem[] = [];
  for (const [setting, value] of Object.entries(values) as [JobSettingName, unknown][]) {
    if (value === undefined) continue;
    const bound: SettingBound = JOB_BOUNDS[setting];
    if (!withinBound(value, bound))
      problems.push({ setting, problem: `must be ${describeBound(bound)}, got ${show(value)}` });
  }
  return problems;
}

/** The problems as `setting: problem` lines, as every validator of the engine lists them. */
export function describeSettingProblems(problems: readonly SettingProblem[]): string[] {
  return problems.map((p) => `${p.setting}: ${p.problem}`);
}
