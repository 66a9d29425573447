import { KeyringUnavailableError } from '../../../functions/core/crypto/errors';
import { KeyServiceAccessDeniedError } from '../../../functions/core/crypto/keyrings/key-service-errors';
import type { SecretDescription, SecretsPort } from '../../../functions/core/ports/secrets';
import { RotationEventError, RotationStateError, RotationStepError } from '../../../functions/core/rotation/errors';
import { rotateKeysetSecret, type RotationDeps } from '../../../functions/core/rotation/rotate';

/** The dispatcher's own behaviour; the steps themselves run against moto + PostgreSQL in test/integration/rotation. */
const token = '0b6c1f7e-2f4d-4d3a-9a51-6f0f1c3b2a10';
const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-keyset-AbCdEf';

function depsWith(describeSecret: () => Promise<SecretDescription>): RotationDeps & { calls: string[] } {
  const calls: string[] = [];
  const record = (name: string) => async (): Promise<never> => {
    calls.push(name);
    throw new Error(`${name} must not be called here`);
  };
  const secrets: SecretsPort = {
    describeSecret: async () => {
      calls.push('describeSecret');
      return describeSecret();
    },
    getSecretValue: record('getSecretValue'),
    putSecretValue: record('putSecretValue'),
    updateSecretVersionStage: record('updateSecretVersionStage'),
  };
  // Nothing past the secret's state is reached in these tests: the other ports are left out on purpose.
  return { secrets, kms: {} as never, catalog: {} as never, executions: {} as never, sql: {} as never, calls };
}

describe('rotateKeysetSecret', () => {
  it('refuses a malformed event before calling anything', async () => {
    const deps = depsWith(async () => ({ arn, name: 'k', versionIdsToStages: {}, rotationEnabled: true }));
    await expect(rotateKeysetSecret(deps, { Step: 'createSecret', SecretId: arn })).rejects.toBeInstanceOf(
      RotationEventError,
    );
    expect(deps.calls).toEqual([]);
  });

  it.each(['createSecret', 'setSecret', 'testSecret'])(
    'has nothing to do in %s once the token is AWSCURRENT',
    async (Step) => {
      const deps = depsWith(async () => ({
        arn,
        name: 'k',
        versionIdsToStages: { [token]: ['AWSCURRENT'] },
        rotationEnabled: true,
      }));
      await expect(rotateKeysetSecret(deps, { Step, SecretId: arn, ClientRequestToken: token })).resolves.toEqual({
        step: Step,
        outcome: 'already-done',
        detail: `version ${token} is already AWSCURRENT: nothing to do`,
      });
      expect(deps.calls).toEqual(['describeSecret']);
    },
  );

  it('passes its own refusals through unchanged', async () => {
    const deps = depsWith(async () => ({ arn, name: 'k', versionIdsToStages: {}, rotationEnabled: false }));
    const error = await rotateKeysetSecret(deps, { Step: 'setSecret', SecretId: arn, ClientRequestToken: token }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RotationStateError);
    expect(error).not.toBeInstanceOf(RotationStepError);
  });

  it('wraps a throttled call as a retryable RotationStepError, cause kept', async () => {
    const cause = new KeyringUnavailableError(
      'secretsmanager:DescribeSecret on "k" failed transiently (ThrottlingException); retry later',
    );
    const deps = depsWith(async () => {
      throw cause;
    });
    const error = (await rotateKeysetSecret(deps, {
      Step: 'testSecret',
      SecretId: arn,
      ClientRequestToken: token,
    }).catch((e: unknown) => e)) as RotationStepError;
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.retryable).toBe(true);
    expect(error.step).toBe('testSecret');
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(`testSecret of ${arn} failed: KEYRING_UNAVAILABLE: ${cause.message}`);
  });

  it('wraps a denied call as a RotationStepError that is not retryable', async () => {
    const deps = depsWith(async () => {
      throw new KeyServiceAccessDeniedError({
        service: 'secretsmanager',
        operation: 'DescribeSecret',
        resource: arn,
        awsErrorName: 'AccessDeniedException',
      });
    });
    const error = (await rotateKeysetSecret(deps, {
      Step: 'finishSecret',
      SecretId: arn,
      ClientRequestToken: token,
    }).catch((e: unknown) => e)) as RotationStepError;
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /^finishSecret of .* failed: KEY_SERVICE_ACCESS_DENIED: secretsmanager:DescribeSecret/,
    );
  });
});
