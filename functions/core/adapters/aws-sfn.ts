import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionControl, ExecutionStarter } from '../ports/executions';
import { ExecutionStartError } from '../ports/execution-errors';
import { awsErrorName, isTransientAwsError } from './aws-error-mapping';

/** Step Functions execution names: 1-80 of letters, digits, `-` and `_`. */
const NAME_LIMIT = 80;

/**
 * ExecutionStarter over Step Functions StartExecution. The execution name is
 * derived from the client token alone (`rewrap-<token>`), so a re-run of the
 * same rotation step starts nothing new: once the first execution has ended
 * Step Functions answers ExecutionAlreadyExists (names stay unique for 90
 * days), and while it still runs it answers a repeat with the same name and
 * input with success, so `started: true` may be a repeat (ports/executions.ts).
 * The input carries ids only: `{mode: 'rewrap', targetKeyId}`.
 */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({}),
  ) {}

  /** The execution name a client token maps to. */
  static executionName(clientToken: string): string {
    return `rewrap-${clientToken}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, NAME_LIMIT);
  }

  async startRewrap(input: {
    targetKeyId: string;
    reason: string;
    clientToken: string;
  }): Promise<{ executionArn: string | null; started: boolean }> {
    const name = SfnExecutionStarter.executionName(input.clientToken);
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          // Ids only: the state machine's ValidateInput accepts exactly these.
          input: JSON.stringify({ mode: 'rewrap', targetKeyId: input.targetKeyId }),
        }),
      );
      return { executionArn: out.executionArn ?? null, started: true };
    } catch (err) {
      if ((err as { name?: unknown }).name === 'ExecutionAlreadyExists') return { executionArn: null, started: false };
      throw startExecutionError(
        err,
        name,
        this.stateMachineArn,
        'check the state machine ARN (STATE_MACHINE_ARN) and that the role may call states:StartExecution on it',
      );
    }
  }
}

/** ExecutionControl over Step Functions StartExecution / DescribeExecution (rekey redrive). */
export class SfnExecutions implements ExecutionControl {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({}),
  ) {}

  async start(name: string, input: Readonly<Record<string, unknown>>): Promise<{ executionArn: string }> {
    try {
      const out = await this.client.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }),
      );
      return { executionArn: out.executionArn ?? '' };
    } catch (err) {
      throw startExecutionError(
        err,
        name,
        this.stateMachineArn,
        'check the state machine ARN and that you may call states:StartExecution on it',
      );
    }
  }

  async status(executionArn: string): Promise<string | null> {
    try {
      const out = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return out.status ?? null;
    } catch (err) {
      // A job started elsewhere (the CLI, a test) carries an id that is no execution ARN: none runs it.
      if (['ExecutionDoesNotExist', 'InvalidArn'].includes(String((err as { name?: unknown }).name))) return null;
      throw new ExecutionStartError(`states:DescribeExecution of ${executionArn} failed (${awsErrorName(err)})`, {
        retryable: isTransientAwsError(err),
        cause: err,
      });
    }
  }
}

/** StartExecution refused: "retry later" when the failure is transient, otherwise what to check (`fix`). */
function startExecutionError(err: unknown, name: string, stateMachineArn: string, fix: string): ExecutionStartError {
  const retryable = isTransientAwsError(err);
  return new ExecutionStartError(
    `states:StartExecution of ${name} on ${stateMachineArn} failed (${awsErrorName(err)})` +
      (retryable ? '; retry later' : `: ${fix}`),
    { retryable, cause: err },
  );
}
