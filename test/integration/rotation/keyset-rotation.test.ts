import { randomUUID } from 'node:crypto';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { HierarchicalKeyring } from '../../../functions/core/crypto/keyrings/hierarchical';
import type { Keyset } from '../../../functions/core/crypto/keyrings/keyset';
import { generateWrappedKek } from '../../../functions/core/crypto/keyrings/keyset-changes';
import { parseKeyset, serializeKeyset } from '../../../functions/core/crypto/keyrings/keyset-document';
import { AuditLog } from '../../../functions/core/keys/audit';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../../functions/core/ports/secrets';
import { RotationSelfTestError, RotationStateError, RotationStepError } from '../../../functions/core/rotation/errors';
import {
  ROTATION_STEPS,
  rotateKeysetSecret,
  type RotationDeps,
  type RotationStep,
  type StepResult,
} from '../../../functions/core/rotation/rotate';
import {
  createKeysetSecret,
  currentKeyset,
  keyStatuses,
  recordingRewrapStarter,
  type RecordingRewrapStarter,
  motoRotationClients,
  rotationDeps,
} from './keyset-fixtures';
import { freshDatabase, type TestDatabase } from '../../support/database';
import { motoRotationLambda, startMotoRotation } from './moto-rotation';

/**
 * The keyset secret's rotation against moto (real SDK clients for KMS and
 * Secrets Manager; moto stages each rotation as Secrets Manager does) and a
 * real PostgreSQL catalog: every step run twice, a retried and an abandoned
 * rotation, no key ever lost. The rewrap starter is a fake that records
 * calls (the Step Functions adapter runs against moto in the handler tests).
 */
describe('keyset rotation hook', () => {
  const { smClient, secrets, kms } = motoRotationClients();
  let lambdaArn: string;
  let db: TestDatabase;
  let catalog: KeyCatalog;
  let deps: RotationDeps;
  let secretArn: string;
  let kmsKeyArn: string;
  /** The fake rewrap starter: every call, the executions that really started, throttled starts to come. */
  let rewraps: RecordingRewrapStarter;

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
  });

  beforeEach(async () => {
    db = await freshDatabase();
    catalog = new KeyCatalog(db.sql);
    ({ secretArn, kmsKeyArn } = await createKeysetSecret({ keyDescription: 'rekey test root' }));
    rewraps = recordingRewrapStarter();
    deps = rotationDeps({ secrets, kms }, db, secretArn, rewraps.starter, { catalog });
  });

  afterEach(async () => {
    await db.drop();
  });

  const run = (Step: RotationStep, token: string): Promise<StepResult> =>
    rotateKeysetSecret(deps, { Step, SecretId: secretArn, ClientRequestToken: token });

  /** A whole rotation as Secrets Manager drives it; with `twice`, every step is called a second time right after. */
  async function rotate(
    options: { twice?: boolean; steps?: readonly RotationStep[]; token?: string } = {},
  ): Promise<{ token: string; results: StepResult[] }> {
    const token = options.token ?? (await startMotoRotation(secretArn, lambdaArn));
    const results: StepResult[] = [];
    for (const Step of options.steps ?? ROTATION_STEPS) {
      results.push(await run(Step, token));
      if (options.twice) results.push(await run(Step, token));
    }
    return { token, results };
  }

  const stages = async () => (await secrets.describeSecret({ secretId: secretArn })).versionIdsToStages;
  const current = (): Promise<Keyset> => currentKeyset(secrets, secretArn);
  const statuses = () => keyStatuses(catalog);
  const withPending = (stageMap: Record<string, readonly string[]>) =>
    Object.keys(stageMap).filter((v) => stageMap[v]!.includes(AWSPENDING));

  it('first rotation turns the bootstrap document into kek-v1, creates the catalog and starts no rewrap', async () => {
    const { token, results } = await rotate({ twice: true });
    const keyset = await current();
    expect(keyset.primary).toBe('kek-v1');
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1']);
    expect(keyset.kmsKeyId).toBe(kmsKeyArn);
    expect(await statuses()).toEqual({ 'kek-v1': 'active' });
    expect(rewraps.calls).toEqual([]);
    expect((await stages())[token]).toEqual([AWSCURRENT]);
    expect(results.map((r) => r.outcome)).toEqual([
      'done',
      'already-done',
      'done',
      'already-done',
      'done',
      'done',
      'done',
      'already-done',
    ]);
  });

  it('rotates kek-v1 → kek-v2 with every step run twice: no key lost, catalog moved, one rewrap', async () => {
    const { token: first } = await rotate();
    const before = await current();
    const ctx = { table: 'users', column: 'email', rowId: '1' };
    const cipherBefore = new EnvelopeCipher({
      keyring: new HierarchicalKeyring({ kms, secrets, secretId: secretArn }),
      policy: await catalog.policy(),
    });
    const stored = await cipherBefore.encrypt('alice@example.com', ctx);

    const { token, results } = await rotate({ twice: true });

    expect(results.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'createSecret:done',
      'createSecret:already-done',
      'setSecret:done',
      'setSecret:already-done',
      'testSecret:done',
      'testSecret:done', // a read-only self-test: it simply runs again
      'finishSecret:done',
      'finishSecret:already-done',
    ]);
    const keyset = await current();
    expect(keyset.primary).toBe('kek-v2');
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    // kek-v1 is the very same KEK, not a re-made one.
    expect(keyset.keys[0]!.wrapped.equals(before.keys[0]!.wrapped)).toBe(true);
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });
    // Started once; the re-run found the start in the audit log and did not ask again.
    expect(rewraps.calls).toEqual([{ targetKeyId: 'kek-v2', clientToken: token }]);
    expect(rewraps.executions).toEqual([{ targetKeyId: 'kek-v2', clientToken: token }]);
    const audit = await new AuditLog(db.sql).list({ subject: `rotation:${token}` });
    expect(audit.map((a) => [a.action, a.details.targetKeyId, a.details.startedByThisCall])).toEqual([
      ['rotation.rewrap_started', 'kek-v2', true],
    ]);
    expect(results[6]!.executionArn).toContain(token);
    expect(results[6]!.rotationDurationMs).toBeGreaterThanOrEqual(0);

    const after = await stages();
    expect(after[token]).toEqual([AWSCURRENT]);
    expect(after[first]).toEqual([AWSPREVIOUS]);
    expect(withPending(after)).toEqual([]);

    // A worker reading AWSCURRENT decrypts the old value and moves it to the new primary.
    const cipherAfter = new EnvelopeCipher({
      keyring: new HierarchicalKeyring({ kms, secrets, secretId: secretArn }),
      policy: await catalog.policy(),
    });
    expect((await cipherAfter.decrypt(stored, ctx)).toString()).toBe('alice@example.com');
    const rewrapped = await cipherAfter.rewrap(stored, ctx);
    expect(cipherAfter.parse(rewrapped).keyId).toBe('kek-v2');
    expect((await cipherAfter.decrypt(rewrapped, ctx)).toString()).toBe('alice@example.com');

    // The secret ends in a state the next RotateSecret accepts.
    await rotate();
    expect((await current()).keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2', 'kek-v3']);
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'rotating', 'kek-v3': 'active' });
  });

  it('finishSecret rides out a throttled StartExecution after the promotion within the call', async () => {
    await rotate();
    rewraps.failingStarts = 2;
    const { token, results } = await rotate();
    expect(results[3]!.detail).toContain('rewrap to kek-v2 started');
    expect(results[3]!.promoted).toBe(true);
    expect(rewraps.calls).toHaveLength(3);
    expect(rewraps.executions).toEqual([{ targetKeyId: 'kek-v2', clientToken: token }]);
  });

  it('a rotation whose finishSecret failed after the promotion completes when finishSecret runs again with the same token', async () => {
    await rotate();
    const token = await startMotoRotation(secretArn, lambdaArn);
    await rotate({ token, steps: ['createSecret', 'setSecret', 'testSecret'] });
    rewraps.failingStarts = 4; // more than the in-call retries
    const error = (await run('finishSecret', token).catch((e: unknown) => e)) as RotationStepError;
    expect(error).toBeInstanceOf(RotationStepError);
    expect(error.retryable).toBe(true);
    expect(rewraps.calls).toHaveLength(4);
    // Failed after the promotion: readers already have kek-v2, and the catalog made it active.
    expect((await current()).primary).toBe('kek-v2');
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });
    expect(rewraps.executions).toEqual([]);

    const { results } = await rotate({ token });
    expect(results.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'createSecret:already-done',
      'setSecret:already-done',
      'testSecret:already-done',
      'finishSecret:done',
    ]);
    expect(results[3]!.detail).toBe('rewrap to kek-v2 started');
    expect(results[3]!.promoted).toBe(false);
    expect(rewraps.executions).toEqual([{ targetKeyId: 'kek-v2', clientToken: token }]);
  });

  it('a key destroyed in the catalog is left out of the next keyset; every other key is kept', async () => {
    await rotate();
    await rotate();
    await rotate();
    expect((await current()).keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2', 'kek-v3']);
    const v2 = (await current()).keys[1]!;
    await catalog.transition('kek-v1', 'retired', 'test', { valuesUnderKey: 0 });
    await catalog.transition('kek-v1', 'destroyed', 'test', { valuesUnderKey: 0 });

    const { results } = await rotate({ twice: true });
    expect(results[0]!.detail).toMatch(/destroyed kek-v1 left out/);
    const keyset = await current();
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v2', 'kek-v3', 'kek-v4']);
    expect(keyset.keys[0]!.wrapped.equals(v2.wrapped)).toBe(true);
    expect(await statuses()).toEqual({
      'kek-v1': 'destroyed',
      'kek-v2': 'rotating',
      'kek-v3': 'rotating',
      'kek-v4': 'active',
    });

    // Leaving out a key that is not destroyed is still refused.
    const token = await startMotoRotation(secretArn, lambdaArn);
    const shrunk = {
      ...keyset,
      primary: 'kek-v5',
      keys: [keyset.keys[1]!, keyset.keys[2]!, await generateWrappedKek(kms, kmsKeyArn, 'kek-v5')],
    };
    await secrets.putSecretValue({
      secretId: secretArn,
      clientRequestToken: token,
      string: serializeKeyset(shrunk),
      versionStages: [AWSPENDING],
    });
    await expect(run('testSecret', token)).rejects.toThrow(/would lose kek-v2$/);
  });

  it('a stale AWSPENDING from an abandoned rotation does not break the next one', async () => {
    await rotate();
    const { token: abandoned } = await rotate({ steps: ['createSecret', 'setSecret'] });
    const staleKeyset = parseKeyset(
      (await secrets.getSecretValue({ secretId: secretArn, versionStage: AWSPENDING, versionId: abandoned })).string,
    );
    expect(staleKeyset.primary).toBe('kek-v2');
    expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });

    // The next scheduled rotation: RotateSecret moves AWSPENDING to its own token.
    const token = await startMotoRotation(secretArn, lambdaArn);
    expect(withPending(await stages())).toEqual([token]);
    await rotate({ token, twice: true });

    const keyset = await current();
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    // Built from AWSCURRENT: the abandoned KEK was never used; its pending catalog row was reused, not left behind.
    expect(keyset.keys[1]!.wrapped.equals(staleKeyset.keys[1]!.wrapped)).toBe(false);
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });
    const after = await stages();
    expect(after[abandoned] ?? []).toEqual([]);
    expect(after[token]).toEqual([AWSCURRENT]);
    expect(rewraps.executions).toEqual([{ targetKeyId: 'kek-v2', clientToken: token }]);
    // The abandoned token can no longer drive a step.
    await expect(run('finishSecret', abandoned)).rejects.toThrow(/is not set as AWSPENDING/);
  });

  it('PutSecretValue with VersionStages [AWSPENDING] takes the label off a stale version (what createSecret relies on)', async () => {
    const stale = randomUUID();
    const fresh = randomUUID();
    await secrets.putSecretValue({
      secretId: secretArn,
      clientRequestToken: stale,
      string: '{"stale":true}',
      versionStages: [AWSPENDING],
    });
    await secrets.putSecretValue({
      secretId: secretArn,
      clientRequestToken: fresh,
      string: '{"fresh":true}',
      versionStages: [AWSPENDING],
    });
    const after = await stages();
    expect(withPending(after)).toEqual([fresh]);
    expect(after[stale] ?? []).toEqual([]);
  });

  describe('testSecret and finishSecret refuse a pending keyset unfit to promote', () => {
    /** Starts a rotation and stores `make(current)` as its pending keyset instead of createSecret's. */
    async function pendingFrom(make: (current: Keyset) => Promise<Keyset>): Promise<string> {
      const token = await startMotoRotation(secretArn, lambdaArn);
      const string = serializeKeyset(await make(await current()));
      await secrets.putSecretValue({
        secretId: secretArn,
        clientRequestToken: token,
        string,
        versionStages: [AWSPENDING],
      });
      await run('setSecret', token);
      return token;
    }
    const newKek = (id: string) => generateWrappedKek(kms, kmsKeyArn, id);

    it.each<[string, (current: Keyset) => Promise<Keyset>, RegExp]>([
      [
        'one that drops kek-v1',
        async (c) => ({ ...c, primary: 'kek-v2', keys: [await newKek('kek-v2')] }),
        /would lose kek-v1/,
      ],
      [
        'one whose kek-v1 is another key',
        async (c) => ({ ...c, primary: 'kek-v2', keys: [await newKek('kek-v1'), await newKek('kek-v2')] }),
        /different key material for kek-v1/,
      ],
    ])('%s, before any KMS call, and AWSCURRENT stays', async (_what, make, message) => {
      await rotate();
      const before = await current();
      const token = await pendingFrom(make);
      const kmsCallsBefore = kms.totalCalls();
      const error = await run('testSecret', token).catch((e: unknown) => e);
      expect(kms.totalCalls()).toBe(kmsCallsBefore);
      expect(error).toBeInstanceOf(RotationSelfTestError);
      expect((error as Error).message).toMatch(message);
      await expect(run('finishSecret', token)).rejects.toThrow(message);
      expect(serializeKeyset(await current())).toBe(serializeKeyset(before));
      expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });
      expect(rewraps.calls).toEqual([]);
    });

    it('one whose new KEK does not unwrap', async () => {
      await rotate();
      // Wrapped for another id: KMS refuses it under kek-v2's encryption context.
      const token = await pendingFrom(async (c) => ({
        ...c,
        primary: 'kek-v2',
        keys: [...c.keys, { ...(await newKek('kek-v9')), id: 'kek-v2' }],
      }));
      const error = await run('testSecret', token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RotationSelfTestError);
      expect((error as Error).message).toMatch(
        /^testSecret: the pending keyset does not load \(KEY_MATERIAL: .*KEK "kek-v2" did not unwrap/,
      );
      expect(error).not.toHaveProperty('retryable', true);
    });
  });

  it('setSecret finding its key registered by an overlapping call in between treats it as done', async () => {
    await rotate();
    const { token } = await rotate({ steps: ['createSecret', 'setSecret'] });
    // The overlapping call registered kek-v2 after this call's read: its read still says "not there".
    const get = jest.spyOn(catalog, 'get').mockResolvedValueOnce(undefined);
    try {
      const again = await run('setSecret', token);
      expect(again).toMatchObject({ outcome: 'already-done', newKeyId: 'kek-v2' });
    } finally {
      get.mockRestore();
    }
    expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });
    expect(await new AuditLog(db.sql).list({ subject: 'key:kek-v2', action: 'key.added' })).toHaveLength(1);
  });

  it('never gives a new KEK an id the catalog used for another key', async () => {
    await rotate();
    // kek-v2 is a raw-keyring key from before the move to the hierarchical keyring.
    await catalog.add({ id: 'kek-v2', keyring: 'raw', status: 'rotating' });
    await rotate({ twice: true });
    expect((await current()).keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v3']);
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'rotating', 'kek-v3': 'active' });
  });

  it('setSecret and finishSecret refuse to run before createSecret stored the keyset', async () => {
    await rotate();
    const token = await startMotoRotation(secretArn, lambdaArn);
    await expect(run('setSecret', token)).rejects.toThrow(/holds no keyset yet: createSecret has not completed/);
    await expect(run('finishSecret', token)).rejects.toBeInstanceOf(RotationStateError);
    expect((await current()).primary).toBe('kek-v1');
  });

  it('refuses what AWS’s rotation templates refuse, changing nothing', async () => {
    const { token: first } = await rotate();
    await rotate();
    const before = serializeKeyset(await current());
    const refusals: [string, () => Promise<unknown>, RegExp][] = [
      [
        'a token that is no version of the secret',
        () => run('createSecret', randomUUID()),
        /has no stage for rotation/,
      ],
      ['a version that is only AWSPREVIOUS', () => run('setSecret', first), /not set as AWSPENDING/],
      [
        'a secret without rotation enabled',
        async () => {
          const other = await smClient.send(
            new CreateSecretCommand({ Name: `rekey-other-${randomUUID()}`, SecretString: '{}' }),
          );
          return rotateKeysetSecret(
            { ...deps, expectedSecretArn: undefined },
            { Step: 'createSecret', SecretId: other.ARN!, ClientRequestToken: randomUUID() },
          );
        },
        /does not have rotation enabled/,
      ],
      [
        'another secret than the function’s own',
        async () => {
          const other = await smClient.send(
            new CreateSecretCommand({ Name: `rekey-other-${randomUUID()}`, SecretString: '{}' }),
          );
          const token = await startMotoRotation(other.ARN!, lambdaArn);
          return rotateKeysetSecret(deps, { Step: 'createSecret', SecretId: other.ARN!, ClientRequestToken: token });
        },
        /this function rotates the keyset secret/,
      ],
    ];
    for (const [what, call, message] of refusals) {
      const error = await call().then(
        () => new Error(`${what}: expected a refusal`),
        (e: unknown) => e,
      );
      expect([what, error instanceof RotationStateError, (error as Error).message]).toEqual([
        what,
        true,
        expect.stringMatching(message),
      ]);
    }
    expect(serializeKeyset(await current())).toBe(before);
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });
  });
});
