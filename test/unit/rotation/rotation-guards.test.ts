import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { SfnExecutionStarter } from '../../../functions/core/adapters/aws-sfn';
import { RotationStateError } from '../../../functions/core/rotation/errors';
import { rotateKeysetSecret, type RotationDeps } from '../../../functions/core/rotation/rotate';
import type { SecretsPort } from '../../../functions/core/ports/secrets';

const token = '11111111-2222-3333-4444-555555555555';

function depsWith(describe: Awaited<ReturnType<SecretsPort['describeSecret']>>): RotationDeps {
  const secrets = { describeSecret: async () => describe } as unknown as SecretsPort;
  return { secrets, kms: {} as never, catalog: {} as never, executions: {} as never };
}

describe('rotation guards', () => {
  it('refuses a secret without rotation enabled, as the AWS templates do', async () => {
    const deps = depsWith({ arn: 'arn:s', name: 'keyset', versionIdsToStages: { [token]: ['AWSPENDING'] }, rotationEnabled: false });
    await expect(rotateKeysetSecret(deps, { Step: 'setSecret', SecretId: 'arn:s', ClientRequestToken: token })).rejects.toThrow(
      /does not have rotation enabled/,
    );
  });

  it('refuses a version that is neither AWSPENDING nor AWSCURRENT', async () => {
    const deps = depsWith({ arn: 'arn:s', name: 'keyset', versionIdsToStages: { [token]: ['AWSPREVIOUS'] }, rotationEnabled: true });
    await expect(rotateKeysetSecret(deps, { Step: 'testSecret', SecretId: 'arn:s', ClientRequestToken: token })).rejects.toBeInstanceOf(RotationStateError);
  });

  it('does nothing for a step re-run once the version is already AWSCURRENT', async () => {
    const deps = depsWith({ arn: 'arn:s', name: 'keyset', versionIdsToStages: { [token]: ['AWSCURRENT'] }, rotationEnabled: true });
    await expect(rotateKeysetSecret(deps, { Step: 'createSecret', SecretId: 'arn:s', ClientRequestToken: token })).resolves.toMatchObject({
      detail: expect.stringContaining('already AWSCURRENT'),
    });
  });
});

describe('SfnExecutionStarter', () => {
  const sfn = mockClient(SFNClient);
  beforeEach(() => sfn.reset());

  it('names the execution after the rotation token and sends ids only', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const starter = new SfnExecutionStarter('arn:sm', new SFNClient({ region: 'us-east-1' }));
    await expect(starter.startRewrap({ targetKeyId: 'kek-v2', reason: 'r', clientToken: token })).resolves.toEqual({ executionArn: 'arn:exec', started: true });
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.name).toBe(`rewrap-${token}`);
    expect(JSON.parse(input.input!)).toEqual({ mode: 'rewrap', targetKeyId: 'kek-v2' });
  });

  it('treats ExecutionAlreadyExists as already started (a re-run of finishSecret)', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' }));
    const starter = new SfnExecutionStarter('arn:sm', new SFNClient({ region: 'us-east-1' }));
    await expect(starter.startRewrap({ targetKeyId: 'kek-v2', reason: 'r', clientToken: token })).resolves.toEqual({ executionArn: null, started: false });
  });
});
