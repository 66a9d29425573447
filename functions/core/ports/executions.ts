/**
 * Starts re-encryption executions (the state machine on AWS). Adapters:
 * adapters/aws-sfn.ts (Step Functions StartExecution); tests pass a fake.
 * Failures are ExecutionStartError (execution-errors.ts), retryable or not.
 */
export interface ExecutionStarter {
  /**
   * Starts a `rewrap` execution to `targetKeyId`. `clientToken` makes it
   * idempotent: the same token never starts a second execution. `started` is
   * false when the provider says the execution already exists; Step
   * Functions answers a repeat of a still-running execution (same name and
   * input) with success instead, so `started: true` may be a repeat too —
   * callers that must count starts once keep their own record (finishSecret
   * keeps it in the audit log). `reason` is for logs: ids only.
   */
  startRewrap(input: {
    readonly targetKeyId: string;
    readonly reason: string;
    readonly clientToken: string;
  }): Promise<{ readonly executionArn: string | null; readonly started: boolean }>;
}

/** What an execution is doing, as the provider reports it (Step Functions: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED...). */
export type ExecutionStatus = string;

/**
 * Starts and looks up executions by name (`rekey redrive`, which resumes a
 * job with a new execution). Adapter: adapters/aws-sfn.ts. Failures are
 * ExecutionStartError naming the state machine and what to fix.
 */
export interface ExecutionControl {
  /** Starts execution `name` with `input` (ids and options only); returns its ARN. */
  start(name: string, input: Readonly<Record<string, unknown>>): Promise<{ readonly executionArn: string }>;
  /** The status of an execution, or null when the provider has none by that ARN. */
  status(executionArn: string): Promise<ExecutionStatus | null>;
}
