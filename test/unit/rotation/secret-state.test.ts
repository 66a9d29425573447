import type { SecretDescription, SecretsPort } from '../../../functions/core/ports/secrets';
import { RotationStateError } from '../../../functions/core/rotation/errors';
import type { RotationEvent } from '../../../functions/core/rotation/event';
import { readRotationState } from '../../../functions/core/rotation/secret-state';

/** The checks AWS's rotation templates make, over a DescribeSecret answer (the moto-backed suite runs them for real). */
const token = '0b6c1f7e-2f4d-4d3a-9a51-6f0f1c3b2a10';
const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-keyset-AbCdEf';
const event: RotationEvent = { Step: 'setSecret', SecretId: arn, ClientRequestToken: token };

function describing(description: Partial<SecretDescription>): SecretsPort {
  const full: SecretDescription = {
    arn,
    name: 'rekey-keyset',
    versionIdsToStages: {},
    rotationEnabled: true,
    ...description,
  };
  const unused = async (): Promise<never> => {
    throw new Error('not used by readRotationState');
  };
  return {
    describeSecret: async () => full,
    getSecretValue: unused,
    putSecretValue: unused,
    updateSecretVersionStage: unused,
  };
}

describe('readRotationState', () => {
  it('reads a token staged AWSPENDING and the version AWSCURRENT is on', async () => {
    const secrets = describing({ versionIdsToStages: { old: ['AWSCURRENT'], [token]: ['AWSPENDING'] } });
    await expect(readRotationState(secrets, event)).resolves.toEqual({
      secretArn: arn,
      secretName: 'rekey-keyset',
      tokenStages: ['AWSPENDING'],
      tokenIsCurrent: false,
      currentVersionId: 'old',
    });
  });

  it('reports a token already promoted (a re-run after finishSecret)', async () => {
    const secrets = describing({ versionIdsToStages: { old: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] } });
    await expect(readRotationState(secrets, event)).resolves.toMatchObject({
      tokenIsCurrent: true,
      currentVersionId: token,
    });
  });

  it.each([
    [
      'rotation is not enabled',
      { rotationEnabled: false, versionIdsToStages: { [token]: ['AWSPENDING'] } },
      /does not have rotation enabled/,
    ],
    [
      'the token is not a version of the secret',
      { versionIdsToStages: { old: ['AWSCURRENT'] } },
      /has no stage for rotation/,
    ],
    [
      'the token is only AWSPREVIOUS',
      { versionIdsToStages: { [token]: ['AWSPREVIOUS'] } },
      /not set as AWSPENDING .*its stages: AWSPREVIOUS/,
    ],
    [
      'the token has lost every stage',
      { versionIdsToStages: { [token]: [] } },
      /not set as AWSPENDING .*its stages: none/,
    ],
  ])('refuses when %s', async (_why, description, message) => {
    const error = await readRotationState(describing(description), event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotationStateError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a secret other than the one the function rotates', async () => {
    const secrets = describing({ versionIdsToStages: { [token]: ['AWSPENDING'] } });
    await expect(readRotationState(secrets, event, `${arn}-other`)).rejects.toThrow(
      /rotates the keyset secret .*-other; it was invoked for/,
    );
    await expect(readRotationState(secrets, event, arn)).resolves.toMatchObject({ secretArn: arn });
  });
});
