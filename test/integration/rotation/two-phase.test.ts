import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../../functions/core/adapters/aws-secrets';
import { HierarchicalKeyring } from '../../../functions/core/crypto/keyrings/hierarchical';
import { parseKeyset } from '../../../functions/core/crypto/keyrings/keyset-document';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import type { ExecutionStarter } from '../../../functions/core/ports/executions';
import { AWSCURRENT } from '../../../functions/core/ports/secrets';
import { ReadersLagError } from '../../../functions/core/readers/errors';
import { startReaderHeartbeat } from '../../../functions/core/readers/heartbeat';
import { removeReader, writeHeartbeat } from '../../../functions/core/readers/store';
import { promoteKeysetKey } from '../../../functions/core/rotation/promote';
import {
  KEYSET_BOOTSTRAP_FORMAT,
  ROTATION_STEPS,
  rotateKeysetSecret,
  type RotationDeps,
} from '../../../functions/core/rotation/rotate';
import { migrate } from '../../../functions/core/schema/migrate';
import { awsClientConfig } from '../../support/aws';
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
  const smClient = new SecretsManagerClient(awsClientConfig());
  const secrets = new AwsSecretsAdapter(smClient);
  const kms = new AwsKmsAdapter(new KMSClient(awsClientConfig()));
  let lambdaArn: string;
  let db: TestDatabase;
  let deps: RotationDeps;
  let secretArn: string;
  let rewraps: string[];

  beforeAll(async () => {
    lambdaArn = await motoRotationLambda();
  });
  beforeEach(async () => {
    db = await freshDatabase();
    await migrate(db.sql);
    const kmsKeyArn = (
      await new KMSClient(awsClientConfig()).send(new CreateKeyCommand({ Description: 'rekey two-phase test' }))
    ).KeyMetadata!.Arn!;
    secretArn = (
      await smClient.send(
        new CreateSecretCommand({
          Name: `rekey-keyset-${randomUUID()}`,
          SecretString: JSON.stringify({ format: KEYSET_BOOTSTRAP_FORMAT, version: 1, kmsKeyId: kmsKeyArn }),
        }),
      )
    ).ARN!;
    rewraps = [];
    const executions: ExecutionStarter = {
      startRewrap: async ({ targetKeyId, clientToken }) => {
        const first = !rewraps.includes(`${targetKeyId}:${clientToken}`);
        if (first) rewraps.push(`${targetKeyId}:${clientToken}`);
        return {
          executionArn: first ? `arn:aws:states:us-east-1:123456789012:execution:rekey:${clientToken}` : null,
          started: first,
        };
      },
    };
    deps = {
      secrets,
      kms,
      catalog: new KeyCatalog(db.sql),
      executions,
      sql: db.sql,
      expectedSecretArn: secretArn,
      retryDelaysMs: [0],
      twoPhase: true,
    };
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
  const current = async () =>
    parseKeyset((await secrets.getSecretValue({ secretId: secretArn, versionStage: AWSCURRENT })).string);
  const statuses = async () => Object.fromEntries((await deps.catalog.list()).map((k) => [k.id, k.status]));

  it('publishes the next KEK decrypt-only, and promotes it only when every live reader has it', async () => {
    await rotate(); // the first keyset: kek-v1, primary at once (there is nothing else)
    expect((await current()).primary).toBe('kek-v1');
    expect(await statuses()).toEqual({ 'kek-v1': 'active' });

    await rotate();
    const published = await current();
    expect(published.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    expect(published.primary).toBe('kek-v1');
    expect(await statuses()).toEqual({ 'kek-v1': 'active', 'kek-v2': 'pending' });
    expect(rewraps).toEqual([]);

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
    expect(rewraps.map((r) => r.split(':')[0])).toEqual(['kek-v2']);

    const again = await promoteKeysetKey(deps, secretArn, 'kek-v2');
    expect(again.changes).toEqual([]);
    expect(rewraps).toHaveLength(1);
    await ring.refresh();
    expect(await ring.primaryKeyId()).toBe('kek-v2');
    await reader.stop();
  });
});
