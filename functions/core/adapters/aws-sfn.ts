import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ExecutionStarter } from '../ports/executions';

/**
 * ExecutionStarter over Step Functions StartExecution. The execution name is
 * derived from the client token, so a re-run of the same rotation step finds
 * ExecutionAlreadyExists and starts nothing new.
 */
export class SfnExecutionStarter implements ExecutionStarter {
  constructor(private readonly stateMachineArn: string, private readonly client: SFNClient = new SFNClient({})) {}

  async startRewrap(input: { targetKeyId: string; reason: string; clientToken: string }): Promise<{ executionArn: string | null; started: boolean }> {
    const name = `rewrap-${input.clientToken}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
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
      if ((err as { name?: string }).name === 'ExecutionAlreadyExists') return { executionArn: null, started: false };
      throw err;
    }
  }
}
