import { ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import type { Keyset } from '../../functions/core/crypto/keyrings/keyset';
import { AuditLog } from '../../functions/core/keys/audit';
import {
  ROTATION_STEPS,
  rotateKeysetSecret,
  type RotationDeps,
  type RotationStep,
  type StepResult,
} from '../../functions/core/rotation/rotate';
import { freshDatabase, requireRealPostgres, type TestDatabase } from '../support/database';
import {
  createKeysetSecret,
  currentKeyset,
  keyStatuses,
  recordingRewrapStarter,
  type RecordingRewrapStarter,
  motoRotationClients,
  rotationDeps,
} from '../integration/rotation/keyset-fixtures';
import { motoRotationLambda, startMotoRotation } from '../integration/rotation/moto-rotation';
import { recordFigure, sized } from './support/figures';

/**
 * The same rotation step called twice at once (Secrets Manager retrying a
 * Lambda that is still running, or two invocations racing), against moto's
 * Secrets Manager and KMS through the real SDK clients and a real PostgreSQL
 * catalog: one result per step, one new keyset version, one new key, one
 * rewrap started.
 */
describe('the same rotation step twice at once', () => {
  const { smClient, secrets, kms } = motoRotationClients();
  let lambdaArn: string;
  let db: TestDatabase;
  let deps: RotationDeps;
  let secretArn: string;
  let rewraps: RecordingRewrapStarter;

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
  });
  beforeEach(async () => {
    requireRealPostgres('two rotation steps on separate connections at once');
    db = await freshDatabase({ poolSize: 4 });
    ({ secretArn } = await createKeysetSecret({ namePrefix: 'rekey-race', keyDescription: 'rekey race root' }));
    rewraps = recordingRewrapStarter();
    deps = rotationDeps({ secrets, kms }, db, secretArn, rewraps.starter);
  });
  afterEach(async () => {
    await db.drop();
  });

  const run = (Step: RotationStep, token: string): Promise<StepResult> =>
    rotateKeysetSecret(deps, { Step, SecretId: secretArn, ClientRequestToken: token });
  const current = (): Promise<Keyset> => currentKeyset(secrets, secretArn);
  const versions = async (): Promise<number> =>
    (await smClient.send(new ListSecretVersionIdsCommand({ SecretId: secretArn, IncludeDeprecated: true }))).Versions!
      .length;

  const ROTATIONS = sized(4, 12);

  it(`each of the four steps, raced against itself, in ${ROTATIONS} rotations (the first makes the keyset)`, async () => {
    const races: { step: RotationStep; outcomes: string[] }[] = [];
    const problems: string[] = [];
    for (let n = 1; n <= ROTATIONS; n++) {
      const rotation = `rotation ${n}`;
      const token = await startMotoRotation(secretArn, lambdaArn);
      const versionsBefore = await versions();
      for (const step of ROTATION_STEPS) {
        const settled = await Promise.allSettled([run(step, token), run(step, token)]);
        const outcomes = settled.map((s) =>
          s.status === 'fulfilled' ? s.value.outcome : `rejected: ${(s.reason as Error).message}`,
        );
        races.push({ step, outcomes });
        const ids = new Set(
          settled
            .filter((s): s is PromiseFulfilledResult<StepResult> => s.status === 'fulfilled')
            .map((s) => s.value.newKeyId),
        );
        if (settled.some((s) => s.status === 'rejected')) problems.push(`${rotation} ${step}: ${outcomes.join(' | ')}`);
        if (ids.size > 1) problems.push(`${rotation} ${step}: two new keys ${[...ids].join(', ')}`);
      }
      const keyset = await current();
      const expected = Array.from({ length: n }, (_, i) => `kek-v${i + 1}`);
      if (JSON.stringify(keyset.keys.map((k) => k.id)) !== JSON.stringify(expected))
        problems.push(`${rotation}: keyset holds ${keyset.keys.map((k) => k.id).join(', ')}`);
      // RotateSecret made the token's version; the steps add no other.
      if ((await versions()) !== versionsBefore)
        problems.push(`${rotation}: ${(await versions()) - versionsBefore} extra secret version(s)`);
    }
    const statuses = await keyStatuses(deps.catalog);
    expect(statuses).toEqual(
      Object.fromEntries(
        Array.from({ length: ROTATIONS }, (_, i) => [`kek-v${i + 1}`, i + 1 === ROTATIONS ? 'active' : 'rotating']),
      ),
    );
    expect(rewraps.executions).toHaveLength(ROTATIONS - 1); // one rewrap per rotation after the first
    const started = await new AuditLog(db.sql).list({ action: 'rotation.rewrap_started', limit: 100 });
    expect(started).toHaveLength(ROTATIONS - 1);

    const single = races.filter((r) => r.outcomes.every((o) => !o.startsWith('rejected'))).length;
    recordFigure({
      area: 'Rotation step twice at once',
      figure: 'raced steps with one result (both calls agree) / raced',
      value: `${single} / ${races.length}`,
      goal: 'all',
    });
    recordFigure({
      area: 'Rotation step twice at once',
      figure: 'extra keyset versions / extra keys / extra rewraps',
      value: `${problems.filter((p) => /extra|keyset holds/.test(p)).length} / ${Object.keys(statuses).length - ROTATIONS} / ${rewraps.executions.length - (ROTATIONS - 1)}`,
      goal: '0 / 0 / 0',
    });
    expect(problems).toEqual([]);
  });
});
