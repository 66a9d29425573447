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
  startRewrap(input: { readonly targetKeyId: string; readonly reason: string; readonly clientToken: string }): Promise<{ readonly executionArn: string | null; readonly started: boolean }>;
}
