import { HierarchicalKeyring } from '../../../functions/core/crypto/keyrings/hierarchical';
import { ReadersLagError } from '../../../functions/core/readers/errors';
import { startReaderHeartbeat } from '../../../functions/core/readers/heartbeat';
import { removeReader, writeHeartbeat } from '../../../functions/core/readers/store';
import { promoteKeysetKey } from '../../../functions/core/rotation/promote';
import { ROTATION_STEPS, rotateKeysetSecret, type RotationDeps } from '../../../functions/core/rotation/rotate';
import { migrate } from '../../../functions/core/schema/migrate';
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
 * The two-phase keyset rotation against moto (KMS, Secrets Manager) and a
 * real PostgreSQL: the rotation publishes the next KEK decrypt-only; a reader
 * of AWSCURRENT picks it up; promotion is refused while a live reader lacks
 * it (one that never updates), then makes it primary, active and rewraps —
 * every step run twice.
 */
describe('two-phase keyset rotation', () => {
  const { secrets, kms } = motoRotationClients();
  let lambdaArn: string;
  let db: TestDatabase;
  let deps: RotationDeps;
  let secretArn: string;
  let rewraps: RecordingRewrapStarter;

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
  });
  beforeEach(async () => {
    db = await freshDatabase();
    await migrate(db.sql);
    ({ secretArn } = await createKeysetSecret({ keyDescription: 'rekey two-phase test' }));
    rewraps = recordingRewrapStarter();
    deps = rotationDeps({ secrets, kms }, db, secretArn, rewraps.starter, {
      ensureSchema: undefined,
      retryDelaysMs: [0],
      twoPhase: true,
    });
  });
  afterEach(async () => {
    await db.drop();
  });

  const rotate = async (): Promise<void> => {
    const token = await startMotoRotation(secretArn, lambdaArn);
    for (const Step of ROTATION_STEPS) {
      await rotateKeysetSecret(deps, { Step, SecretId: secretArn, ClientRequestToken: token });
      await rotateKeysetSecret(deps, { Step, SecretId: secretArn, ClientRequestToken: token }); // every step re-runs safely
    }
  };
  const current = () => currentKeyset(secrets, secretArn);
  const statuses = () => keyStatuses(deps.catalog);

  it('publishes the next KEK decrypt-only, and promotes it only when every live reader has it', async () => {
    await rotate(); // the first keyset: kek-v1, primary at once (there is nothing else)
    expect((await current()).primary).toBe('kek-v1');
    expect(await statuses()).toEqual({ 'kek-v1': 'active' });

    await rotate();
    const published = await current();
    expect(published.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    expect(published.primary).toBe('kek-v1');
    expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });
    expect(rewraps.executions).toEqual([]);

    // An application reading AWSCURRENT has kek-v2 for decrypting and still encrypts with kek-v1.
    const ring = new HierarchicalKeyring({ kms, secrets, secretId: secretArn });
    const reader = (await startReaderHeartbeat({
      sql: db.sql,
      kind: 'library',
      keyring: ring,
      intervalSeconds: 60,
      env: {},
    }))!;
    // And one instance whose keyset cache never refreshes.
    await writeHeartbeat(db.sql, {
      readerId: 'library:stuck:1:x',
      kind: 'library',
      host: 'stuck',
      pid: 1,
      keyIds: ['kek-v1'],
      keysetVersion: 'old',
      primaryKeyId: 'kek-v1',
      intervalSeconds: 60,
    });

    await expect(promoteKeysetKey(deps, secretArn, 'kek-v2')).rejects.toThrow(ReadersLagError);
    await expect(promoteKeysetKey(deps, secretArn, 'kek-v2')).rejects.toThrow(/library:stuck:1:x/);
    expect((await current()).primary).toBe('kek-v1');
    expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });

    await removeReader(db.sql, 'library:stuck:1:x'); // that instance was replaced
    const promoted = await promoteKeysetKey(deps, secretArn, 'kek-v2');
    expect(promoted.changes).toEqual(['AWSCURRENT has kek-v2 as primary', 'kek-v2 active', 'rewrap to kek-v2 started']);
    expect((await current()).primary).toBe('kek-v2');
    expect(await statuses()).toEqual({ 'kek-v1': 'rotating', 'kek-v2': 'active' });
    expect(rewraps.executions.map((r) => r.targetKeyId)).toEqual(['kek-v2']);

    const again = await promoteKeysetKey(deps, secretArn, 'kek-v2');
    expect(again.changes).toEqual([]);
    expect(rewraps.executions).toHaveLength(1);
    await ring.refresh();
    expect(await ring.primaryKeyId()).toBe('kek-v2');
    await reader.stop();
  });
});
