import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { rotateCommand, type RotateOptions } from '../../../functions/cli/commands/rotate';
import type { GlobalOptions } from '../../../functions/cli/io';
import { AwsSecretsAdapter } from '../../../functions/core/adapters/aws-secrets';
import { AWSCURRENT, AWSPENDING } from '../../../functions/core/ports/secrets';
import { ROTATION_STEPS, rotateKeysetSecret, type RotationDeps } from '../../../functions/core/rotation/rotate';
import { motoEndpoint } from '../../support/aws';
import { capturedIo, runCli, type CliRun } from '../../support/cli';
import { freshDatabase, type TestDatabase } from '../../support/database';
import {
  createKeysetSecret,
  currentKeyset,
  recordingRewrapStarter,
  motoRotationClients,
  rotationDeps,
} from '../rotation/keyset-fixtures';
import { motoRotationLambda, motoRotationStarter, startMotoRotation } from '../rotation/moto-rotation';

/**
 * `rekey keys rotate`: the first and later keyset rotations started from the
 * CLI and followed to AWSCURRENT, against moto Secrets Manager and KMS and a
 * real PostgreSQL catalog. The rotation function's four steps run for real
 * (core/rotation/rotate.ts), after RotateSecret answers, as AWS runs them;
 * the failed and abandoned cases are a rotation function that never
 * finishes and one whose version loses AWSPENDING.
 */
describe('rekey keys rotate', () => {
  const { smClient, secrets, kms } = motoRotationClients();
  let lambdaArn: string;
  let db: TestDatabase;
  let deps: RotationDeps;
  let secretArn: string;
  let dir: string;

  const savedEndpoint = process.env.AWS_ENDPOINT_URL;

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
    // Runs through `main` build their clients as an operator's shell would: from the environment.
    process.env.AWS_ENDPOINT_URL = motoEndpoint();
  });

  afterAll(() => {
    if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = savedEndpoint;
  });

  beforeEach(async () => {
    db = await freshDatabase();
    ({ secretArn } = await createKeysetSecret({ namePrefix: 'rekey-cli-rotate' }));
    deps = rotationDeps({ secrets, kms }, db, secretArn, recordingRewrapStarter().starter);
    await configureRotation(secretArn);
    dir = mkdtempSync(join(tmpdir(), 'rekey-rotate-'));
    writeFileSync(join(dir, 'cdk-outputs.json'), JSON.stringify({ Rekey: { KeysetSecretArn: secretArn } }));
  });

  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  /**
   * Rotation on, as the stack's schedule leaves it, with no rotation in
   * flight. moto stages a rotation when it turns rotation on (AWS, with
   * RotateImmediately off, does not): that version's AWSPENDING is cleared.
   */
  async function configureRotation(secretId: string): Promise<void> {
    const token = await startMotoRotation(secretId, lambdaArn);
    await secrets.updateSecretVersionStage({ secretId, versionStage: AWSPENDING, removeFromVersionId: token });
  }

  /** The rotation function as AWS invokes it: the four steps with the rotation's token. */
  const runSteps = async (token: string): Promise<void> => {
    for (const Step of ROTATION_STEPS)
      await rotateKeysetSecret(deps, { Step, SecretId: secretArn, ClientRequestToken: token });
  };
  const neverFinishes = (): Promise<void> => Promise.resolve();
  const dropsPending = async (token: string): Promise<void> =>
    secrets.updateSecretVersionStage({ secretId: secretArn, versionStage: AWSPENDING, removeFromVersionId: token });

  async function rotate(
    service: (token: string) => Promise<void>,
    opts: Partial<RotateOptions> = {},
    globals: GlobalOptions = {},
  ): Promise<CliRun> {
    const { io, run } = capturedIo({ env: {}, cwd: dir });
    const starter = motoRotationStarter(lambdaArn, service);
    const port = {
      describeSecret: secrets.describeSecret.bind(secrets),
      getSecretValue: secrets.getSecretValue.bind(secrets),
      rotateSecret: starter.rotateSecret.bind(starter),
    };
    const code = await rotateCommand(globals, { outputs: 'cdk-outputs.json', wait: 60, pollInterval: 1, ...opts }, io, {
      secrets: port,
    });
    await starter.settled();
    return run(code);
  }

  const stages = async () => (await secrets.describeSecret({ secretId: secretArn })).versionIdsToStages;

  it('turns the bootstrap document into kek-v1 and waits until it is AWSCURRENT', async () => {
    const run = await rotate(runSteps);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/keyset rotated: version [0-9a-f-]{36} is AWSCURRENT\nprimary kek-v1; keys kek-v1\n/);
    expect((await currentKeyset(secrets, secretArn)).primary).toBe('kek-v1');
    expect(await deps.catalog.list()).toEqual([expect.objectContaining({ id: 'kek-v1', status: 'active' })]);
  });

  it('a later rotation adds kek-v2 as primary; --json names the version and the keys, never key material', async () => {
    await rotate(runSteps);
    const run = await rotate(runSteps, {}, { json: true });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as Record<string, unknown>;
    expect(report).toEqual({
      secretId: secretArn,
      status: 'current',
      versionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      keyset: { primary: 'kek-v2', keyIds: ['kek-v1', 'kek-v2'] },
    });
    expect((await stages())[report.versionId as string]).toEqual([AWSCURRENT]);
    const keyset = await currentKeyset(secrets, secretArn);
    for (const key of keyset.keys) expect(run.out).not.toContain(key.wrapped.toString('base64'));
  });

  it('a rotation that never finishes: exit 1 after --wait, the next run refuses with the command to clear it, then rotates', async () => {
    const stuck = await rotate(neverFinishes, { wait: 2 });
    expect(stuck.code).toBe(1);
    expect(stuck.out).toMatch(/has not finished after 2 s: version ([0-9a-f-]{36}) is still AWSPENDING/);
    const version = /version ([0-9a-f-]{36}) is still/.exec(stuck.out)![1]!;
    expect((await stages())[version]).toEqual([AWSPENDING]);

    // The refusal comes from DescribeSecret, before any RotateSecret: no version is added.
    const versionsBefore = Object.keys(await stages());
    const refused = await runCli(['keys', 'rotate', '--outputs', 'cdk-outputs.json'], { env: process.env, cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`version ${version} is still AWSPENDING and not AWSCURRENT`);
    const clear = `--version-stage AWSPENDING --remove-from-version-id ${version}`;
    expect(refused.err).toContain(clear);
    expect(Object.keys(await stages())).toEqual(versionsBefore);

    await dropsPending(version); // what the printed command does
    const retried = await rotate(runSteps);
    expect(retried.code).toBe(0);
    expect((await currentKeyset(secrets, secretArn)).primary).toBe('kek-v1');
  });

  it('a rotation whose version loses AWSPENDING without becoming current: exit 1, AWSCURRENT unchanged', async () => {
    const before = (await secrets.getSecretValue({ secretId: secretArn, versionStage: AWSCURRENT })).versionId;
    const run = await rotate(dropsPending);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/ended without making version [0-9a-f-]{36} AWSCURRENT \(its stages now: none\)/);
    expect((await secrets.getSecretValue({ secretId: secretArn, versionStage: AWSCURRENT })).versionId).toBe(before);
  });

  it('--wait 0 starts the rotation and returns while it is AWSPENDING', async () => {
    const run = await rotate(neverFinishes, { wait: 0 });
    expect(run.code).toBe(0);
    const version = /version ([0-9a-f-]{36}) \(not waited for\)/.exec(run.out)![1]!;
    expect((await stages())[version]).toEqual([AWSPENDING]);
  });

  it("the product's adapter sends RotateSecret with the token as the new version's id", async () => {
    const token = randomUUID();
    const adapter = new AwsSecretsAdapter(smClient);
    expect(await adapter.rotateSecret({ secretId: secretArn, clientRequestToken: token })).toEqual({
      versionId: token,
    });
    expect(adapter.callCounts().RotateSecret).toBe(1);
    expect(Object.keys(await stages())).toContain(token);
  });

  it('a secret without rotation is refused before anything is started', async () => {
    const plain = (
      await smClient.send(new CreateSecretCommand({ Name: `rekey-unrotated-${randomUUID()}`, SecretString: '{}' }))
    ).ARN!;
    const run = await runCli(['keys', 'rotate', '--secret-id', plain], { env: process.env, cwd: dir });
    expect(run.code).toBe(1);
    expect(run.err).toContain(`${plain} has no rotation configured`);
    expect(Object.keys((await secrets.describeSecret({ secretId: plain })).versionIdsToStages)).toHaveLength(1);
  });

  it.each([
    [['keys', 'rotate'], /--outputs cdk-outputs.json, or --secret-id ARN/],
    [['keys', 'rotate', '--outputs', 'missing.json'], /--outputs missing.json: no such file/],
    [['keys', 'rotate', '--outputs', 'other.json'], /stack Rekey has no KeysetSecretArn output/],
    [['keys', 'rotate', '--secret-id', 'x', '--wait', '-1'], /expected a whole number from 0 to 3600, got "-1"/],
    [['keys', 'rotate', '--secret-id', 'x', '--poll-interval', '0'], /expected a whole number from 1 to 300, got 0/],
  ])('usage: %j exits 2 naming what is wrong', async (args, message) => {
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ Rekey: { StateMachineArn: 'arn:x' } }));
    const { code, err } = await runCli(args, { env: process.env, cwd: dir });
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });
});
