/** Starts re-encryption executions (the state machine on AWS). */
export interface ExecutionStarter {
  /**
   * Starts a `rewrap` execution to `targetKeyId`. `clientToken` makes it
   * idempotent: the same token never starts a second execution.
   */
  startRewrap(input: { readonly targetKeyId: string; readonly reason: string; readonly clientToken: string }): Promise<{ readonly executionArn: string | null; readonly started: boolean }>;
}
