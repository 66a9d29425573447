import { ENV, ENV_DEFAULTS } from '../environment-names';

/**
 * How much invocation time one batch needs before a worker may claim it: the
 * RDS Data API stops a statement after 45 s, the adapter retries transient
 * failures with back-off, and a batch makes a few more calls (claim, read,
 * write, counters). A batch started with less than this left could be cut
 * by the Lambda timeout halfway; it is left for another delivery instead.
 */
export const DATA_API_STATEMENT_LIMIT_MS = 45_000;

/** The remaining-time check of one worker invocation. */
export class TimeBudget {
  constructor(
    /** Lambda's context.getRemainingTimeInMillis. */
    private readonly remainingMs: () => number,
    /** Time one batch needs (WORKER_BATCH_BUDGET_MS). */
    readonly perBatchMs: number = ENV_DEFAULTS.workerBatchBudgetMs,
  ) {}

  /** Read from the environment: WORKER_BATCH_BUDGET_MS when it is a positive whole number, else the default. */
  static fromEnv(remainingMs: () => number, env: NodeJS.ProcessEnv = process.env): TimeBudget {
    const v = Number(env[ENV.workerBatchBudgetMs]);
    return new TimeBudget(remainingMs, Number.isInteger(v) && v > 0 ? v : ENV_DEFAULTS.workerBatchBudgetMs);
  }

  /** Milliseconds left, and whether a batch may still start. */
  check(): { remainingMs: number; enough: boolean } {
    const remainingMs = this.remainingMs();
    return { remainingMs, enough: remainingMs >= this.perBatchMs };
  }
}
