import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { parseKeyset } from '../../functions/core/crypto/keyrings/keyset-document';
import { KeyCatalog } from '../../functions/core/keys/catalog';
import { RotationConfigError, RotationEventError, RotationStateError } from '../../functions/core/rotation/errors';
import { ROTATION_STEPS } from '../../functions/core/rotation/rotate';
import { handler } from '../../functions/handlers/rotation';
import { resetRotationContainer } from '../../functions/runtime/rotation-container';
import { KEYSET_BOOTSTRAP_DOCUMENT } from '../../lib/keyset-rotation';
import { awsClientConfig, motoEndpoint } from '../support/aws';
import { freshDatabase, type TestDatabase } from '../support/database';
import { createKeysetSecret } from '../integration/rotation/keyset-fixtures';
import { motoRotationLambda, startMotoRotation } from '../integration/rotation/moto-rotation';
import { lambdaContext } from '../support/lambda';

/**
 * The rotation Lambda as Secrets Manager calls it: real rotation events,
 * SDK clients built from the environment (AWS_ENDPOINT_URL → moto), the
 * catalog on a real PostgreSQL (DATABASE_URL), the rewrap started on a moto
 * Step Functions state machine. Logs and EMF metrics are read from stdout.
 */
const context = lambdaContext('rotation', { remainingMs: 60_000 });

describe('rotation handler', () => {
  const saved = { ...process.env };
  const sm = new SecretsManagerClient(awsClientConfig());
  const sfn = new SFNClient(awsClientConfig());
  let lambdaArn: string;
  let stateMachineArn: string;
  let db: TestDatabase;
  let secretArn: string;
  let stdout = '';
  let spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
    stateMachineArn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `rekey-${randomUUID().slice(0, 8)}`,
          roleArn: 'arn:aws:iam::123456789012:role/rekey-states',
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        }),
      )
    ).stateMachineArn!;
  });

  beforeEach(async () => {
    db = await freshDatabase();
    ({ secretArn } = await createKeysetSecret());
    const { credentials, region } = awsClientConfig();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      DATABASE_URL: db.url,
      STATE_MACHINE_ARN: stateMachineArn,
      KEYSET_SECRET_ARN: secretArn,
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    await resetRotationContainer();
    stdout = '';
    const capture = (chunk: string | Uint8Array): boolean => {
      stdout += chunk.toString();
      return true;
    };
    spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
  });

  afterEach(async () => {
    spies.forEach((s) => s.mockRestore());
    await resetRotationContainer();
    process.env = { ...saved };
    await db.drop();
  });

  const event = (Step: string, token: string, SecretId = secretArn) => ({
    Step,
    SecretId,
    ClientRequestToken: token,
    RotationToken: `rt-${token}`,
  });

  /** Every EMF document the handler printed: metric name → values. */
  function emittedMetrics(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const line of stdout.split('\n')) {
      if (!line.includes('"_aws"')) continue;
      const doc = JSON.parse(line) as {
        _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
      } & Record<string, unknown>;
      for (const directive of doc._aws.CloudWatchMetrics) {
        expect(directive.Namespace).toBe('Rekey');
        for (const { Name } of directive.Metrics)
          out[Name] = [...(out[Name] ?? []), ...([doc[Name]].flat() as number[])];
      }
    }
    return out;
  }

  async function rotateThroughHandler(): Promise<string> {
    const token = await startMotoRotation(secretArn, lambdaArn);
    for (const Step of ROTATION_STEPS) {
      await handler(event(Step, token), context);
      await handler(event(Step, token), context); // Secrets Manager may call any step again
    }
    return token;
  }

  it('runs two rotations from real events: kek-v1, then kek-v2 with one rewrap execution on the state machine', async () => {
    await rotateThroughHandler();
    const token = await rotateThroughHandler();

    const keyset = parseKeyset(
      (await sm.send(new GetSecretValueCommand({ SecretId: secretArn, VersionStage: 'AWSCURRENT' }))).SecretString!,
    );
    expect([keyset.primary, keyset.keys.map((k) => k.id)]).toEqual(['kek-v2', ['kek-v1', 'kek-v2']]);
    const statuses = Object.fromEntries((await new KeyCatalog(db.sql).list()).map((k) => [k.id, k.status]));
    expect(statuses).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });

    // Through the real Step Functions adapter: one execution, named after the token, ids only in its input.
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(executions!.map((e) => e.name)).toEqual([`rewrap-${token}`]);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: executions![0]!.executionArn! }));
    expect(JSON.parse(described.input!)).toEqual({ mode: 'rewrap', targetKeyId: 'kek-v2' });

    const metrics = emittedMetrics();
    expect(metrics.RotationSucceeded).toEqual([1, 1]); // one per rotation, not per finishSecret call
    expect(metrics.RotationDurationMs).toHaveLength(2);
    expect(metrics.RotationDurationMs!.every((ms) => ms >= 0 && ms < 600_000)).toBe(true);
    expect(metrics.RotationFailed).toBeUndefined();

    expect(stdout).toContain('"message":"rotation step"');
    expect(stdout).toContain(`"token":"${token}"`);
    for (const key of keyset.keys) expect(stdout).not.toContain(key.wrapped.toString('base64'));
    expect(stdout).not.toContain('"wrapped"');
  });

  it('refuses an unknown step before building anything, and counts the failure', async () => {
    delete process.env.STATE_MACHINE_ARN; // would fail the build: the event is checked first
    const error = await handler(event('dropSecret', randomUUID()), context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotationEventError);
    expect((error as Error).message).toMatch(
      /Step must be one of createSecret, setSecret, testSecret, finishSecret, got "dropSecret"/,
    );
    expect(emittedMetrics().RotationFailed).toEqual([1]);
    expect(stdout).toContain('"code":"ROTATION_EVENT"');
  });

  it('refuses a secret without rotation enabled', async () => {
    delete process.env.KEYSET_SECRET_ARN;
    const plain = (await sm.send(new CreateSecretCommand({ Name: `rekey-plain-${randomUUID()}`, SecretString: '{}' })))
      .ARN!;
    await expect(handler(event('createSecret', randomUUID(), plain), context)).rejects.toThrow(RotationStateError);
    await expect(handler(event('createSecret', randomUUID(), plain), context)).rejects.toThrow(
      /does not have rotation enabled/,
    );
    expect(emittedMetrics().RotationFailed).toEqual([1, 1]);
  });

  it('refuses a token that is not staged AWSPENDING, and a secret other than KEYSET_SECRET_ARN', async () => {
    const first = await rotateThroughHandler();
    // A random token is no version at all.
    await expect(handler(event('setSecret', randomUUID()), context)).rejects.toThrow(/has no stage for rotation/);
    await rotateThroughHandler(); // now `first` is AWSPREVIOUS
    await handler(event('testSecret', first), context).then(
      () => {
        throw new Error('expected a refusal');
      },
      (err: unknown) => expect((err as Error).message).toMatch(/is not set as AWSPENDING .*its stages: AWSPREVIOUS/),
    );
    const other = (await sm.send(new CreateSecretCommand({ Name: `rekey-other-${randomUUID()}`, SecretString: '{}' })))
      .ARN!;
    const token = await startMotoRotation(other, lambdaArn);
    await expect(handler(event('createSecret', token, other), context)).rejects.toThrow(
      /this function rotates the keyset secret/,
    );
    expect(emittedMetrics().RotationFailed).toEqual([1, 1, 1]);
  });

  it('names every missing environment variable, and recovers once they are set', async () => {
    const url = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    delete process.env.STATE_MACHINE_ARN;
    const token = await startMotoRotation(secretArn, lambdaArn);
    const error = await handler(event('createSecret', token), context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RotationConfigError);
    expect((error as Error).message).toBe(
      "the rotation function's environment is incomplete: set STATE_MACHINE_ARN (the state machine finishSecret starts the rewrap on); " +
        'DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME (the catalog database through the Data API; or DATABASE_URL)',
    );
    Object.assign(process.env, { DATABASE_URL: url, STATE_MACHINE_ARN: stateMachineArn });
    await expect(handler(event('createSecret', token), context)).resolves.toMatchObject({
      step: 'createSecret',
      outcome: 'done',
      newKeyId: 'kek-v1',
    });
  });

  it("the stack's constant bootstrap document (no key in it): the first keyset is wrapped under KMS_KEY_ARN; a keyset under another key is refused", async () => {
    const kms = new KMSClient(awsClientConfig());
    const stackKey = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const seeded = (
      await sm.send(
        new CreateSecretCommand({ Name: `rekey-keyset-${randomUUID()}`, SecretString: KEYSET_BOOTSTRAP_DOCUMENT }),
      )
    ).ARN!;
    Object.assign(process.env, { KEYSET_SECRET_ARN: seeded, KMS_KEY_ARN: stackKey });
    await resetRotationContainer();
    const rotate = async () => {
      const token = await startMotoRotation(seeded, lambdaArn);
      for (const Step of ROTATION_STEPS) await handler(event(Step, token, seeded), context);
    };
    await rotate();
    const keyset = parseKeyset(
      (await sm.send(new GetSecretValueCommand({ SecretId: seeded, VersionStage: 'AWSCURRENT' }))).SecretString!,
    );
    expect([keyset.kmsKeyId, keyset.primary]).toEqual([stackKey, 'kek-v1']);

    // The stack's key changed after the first rotation (what the synth-time guard refuses): the hook refuses too.
    process.env.KMS_KEY_ARN = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    await resetRotationContainer();
    const token = await startMotoRotation(seeded, lambdaArn);
    await expect(handler(event('createSecret', token, seeded), context)).rejects.toThrow(
      /wraps its KEKs under KMS key .*configured with .*Changing the KMS key/,
    );
    const still = parseKeyset(
      (await sm.send(new GetSecretValueCommand({ SecretId: seeded, VersionStage: 'AWSCURRENT' }))).SecretString!,
    );
    expect(still.keys.map((k) => k.id)).toEqual(['kek-v1']);
  });

  it('a constant bootstrap document without KMS_KEY_ARN names what is missing', async () => {
    const seeded = (
      await sm.send(
        new CreateSecretCommand({ Name: `rekey-keyset-${randomUUID()}`, SecretString: KEYSET_BOOTSTRAP_DOCUMENT }),
      )
    ).ARN!;
    process.env.KEYSET_SECRET_ARN = seeded;
    delete process.env.KMS_KEY_ARN;
    await resetRotationContainer();
    const token = await startMotoRotation(seeded, lambdaArn);
    await expect(handler(event('createSecret', token, seeded), context)).rejects.toThrow(
      /no KMS key is configured \(KMS_KEY_ARN\)/,
    );
  });
});
