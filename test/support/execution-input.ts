import { randomUUID } from 'node:crypto';
import type { ExecutionRequest } from '../../functions/core/pipeline/execution-request';

/**
 * The state machine's inputs as the suites build them: a validated execution
 * request (what ValidateInput hands Plan) and an execution ARN. One factory,
 * so a field added to the request is added here once.
 */

/** A validated request: a rewrap of every table in batches of 10, 1 % error budget; `overrides` sets the rest. */
export function executionRequest(overrides: Partial<ExecutionRequest> = {}): ExecutionRequest {
  return {
    mode: 'rewrap',
    tables: null,
    batchSize: 10,
    dryRun: false,
    maxErrorRate: 0.01,
    targetKeyId: null,
    tenant: null,
    ...overrides,
  };
}

/** A new execution ARN of the `rekey` state machine. */
export function executionArn(): string {
  return `arn:aws:states:us-east-1:123456789012:execution:rekey:${randomUUID()}`;
}
