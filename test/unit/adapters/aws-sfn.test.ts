import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { SfnExecutionStarter } from '../../../functions/core/adapters/aws-sfn';
import { ExecutionStartError } from '../../../functions/core/ports/execution-errors';

/** Error branches of the Step Functions starter (the happy path and the re-run run against moto in test/integration/rotation). */
const token = '0b6c1f7e-2f4d-4d3a-9a51-6f0f1c3b2a10';
const sfn = mockClient(SFNClient);
const starter = () =>
  new SfnExecutionStarter(
    'arn:aws:states:us-east-1:123456789012:stateMachine:rekey',
    new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
  );
const awsError = (name: string, status: number, fault: 'client' | 'server' = 'client') =>
  Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });

describe('SfnExecutionStarter', () => {
  beforeEach(() => sfn.reset());

  it('names the execution after the token alone and sends ids only', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    await expect(
      starter().startRewrap({ targetKeyId: 'kek-v2', reason: 'keyset rotation', clientToken: token }),
    ).resolves.toEqual({ executionArn: 'arn:exec', started: true });
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.name).toBe(`rewrap-${token}`);
    expect(JSON.parse(input.input!)).toEqual({ mode: 'rewrap', targetKeyId: 'kek-v2' });
  });

  it('keeps execution names within Step Functions’ 80 allowed characters', () => {
    expect(SfnExecutionStarter.executionName(`${'a'.repeat(64)}.x/y`)).toMatch(/^rewrap-a{64}-x-y$/);
    expect(SfnExecutionStarter.executionName('b'.repeat(200))).toHaveLength(80);
  });

  it('treats ExecutionAlreadyExists as already started (a re-run of finishSecret)', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 400));
    await expect(starter().startRewrap({ targetKeyId: 'kek-v2', reason: 'r', clientToken: token })).resolves.toEqual({
      executionArn: null,
      started: false,
    });
  });

  it('reports throttling as a retryable ExecutionStartError', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ThrottlingException', 400));
    const error = (await starter()
      .startRewrap({ targetKeyId: 'kek-v2', reason: 'r', clientToken: token })
      .catch((e: unknown) => e)) as ExecutionStartError;
    expect(error).toBeInstanceOf(ExecutionStartError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/\(ThrottlingException\); retry later$/);
  });

  it('reports a missing state machine as not retryable, naming what to check', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('StateMachineDoesNotExist', 400));
    const error = (await starter()
      .startRewrap({ targetKeyId: 'kek-v2', reason: 'r', clientToken: token })
      .catch((e: unknown) => e)) as ExecutionStartError;
    expect(error).toBeInstanceOf(ExecutionStartError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/StateMachineDoesNotExist.*STATE_MACHINE_ARN.*states:StartExecution/);
    expect(error.cause).toBeInstanceOf(Error);
  });
});
