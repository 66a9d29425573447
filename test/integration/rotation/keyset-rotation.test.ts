import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../../functions/core/adapters/aws-secrets';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { HierarchicalKeyring } from '../../../functions/core/crypto/keyrings/hierarchical';
import { parseKeyset, serializeKeyset } from '../../../functions/core/crypto/keyrings/keyset';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import type { ExecutionStarter } from '../../../functions/core/ports/executions';
import { AWSCURRENT, AWSPENDING } from '../../../functions/core/ports/secrets';
import { RotationSelfTestError, RotationStateError } from '../../../functions/core/rotation/errors';
import { KEYSET_BOOTSTRAP_FORMAT, rotateKeysetSecret, type RotationDeps, type RotationStep } from '../../../functions/core/rotation/rotate';
import { migrate } from '../../../functions/core/schema/migrate';
import { awsClientConfig } from '../../support/aws';
import { freshDatabase, type TestDatabase } from '../../support/database';

/**
 * The keyset secret's rotation against moto (real SDK clients for KMS and
 * Secrets Manager) and a real PostgreSQL catalog: every step run twice, a
 * stale AWSPENDING left by a failed rotation, no key ever lost.
 */
const STEPS: RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

describe('keyset rotation hook', () => {
  let db: TestDatabase;
  let deps: RotationDeps;
  let secretId: string;
  let started: { targetKeyId: string; clientToken: string }[];
  const secrets = new AwsSecretsAdapter(new SecretsManagerClient(awsClientConfig()));
  const kms = new AwsKmsAdapter(new KMSClient(awsClientConfig()));

  beforeEach(async () => {
    db = await freshDatabase();
    const key = await new KMSClient(awsClientConfig()).send(new CreateKeyCommand({ Description: 'rekey test root' }));
    const secret = await new SecretsManagerClient(awsClientConfig()).send(
      new CreateSecretCommand({
        Name: `rekey-keyset-${randomUUID()}`,
        SecretString: JSON.stringify({ format: KEYSET_BOOTSTRAP_FORMAT, version: 1, kmsKeyId: key.KeyMetadata!.Arn }),
      }),
    );
    secretId = secret.ARN!;
    started = [];
    const executions: ExecutionStarter = {
      startRewrap: async (input) => {
        const first = !started.some((s) => s.clientToken === input.clientToken);
        if (first) started.push({ targetKeyId: input.targetKeyId, clientToken: input.clientToken });
        return { executionArn: first ? `arn:aws:states:local:exec:${input.clientToken}` : null, started: first };
      },
    };
    deps = {
      secrets,
      kms,
      catalog: new KeyCatalog(db.sql),
      executions,
      ensureSchema: async () => void (await migrate(db.sql)),
      // moto cannot enable rotation without a Lambda it can invoke; the check itself is unit-tested.
      requireRotationEnabled: false,
    };
  });
  afterEach(async () => {
    await db.drop();
  });

  async function rotate(token = randomUUID(), steps = STEPS): Promise<string> {
    for (const Step of steps) {
      await rotateKeysetSecret(deps, { Step, SecretId: secretId, ClientRequestToken: token });
      await rotateKeysetSecret(deps, { Step, SecretId: secretId, ClientRequestToken: token }); // every step is safe to re-run
    }
    return token;
  }

  async function current() {
    return parseKeyset((await secrets.getSecretValue({ secretId, versionStage: AWSCURRENT })).string);
  }

  it('first rotation turns the bootstrap document into kek-v1 and creates the catalog', async () => {
    await rotate();
    const keyset = await current();
    expect(keyset.primary).toBe('kek-v1');
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1']);
    expect((await deps.catalog.require('kek-v1')).status).toBe('active');
    expect(started).toEqual([]); // nothing to rewrap yet
  });

  it('rotates kek-v1 → kek-v2 keeping every key, with a stale AWSPENDING from a failed rotation', async () => {
    await rotate();
    const before = new HierarchicalKeyring({ kms, secrets, secretId });
    const cipher = new EnvelopeCipher({ keyring: before, policy: await deps.catalog.policy() });
    const ctx = { table: 'users', column: 'email', rowId: '1' };
    const stored = await cipher.encrypt('alice@example.com', ctx);

    // An earlier rotation died after createSecret: its AWSPENDING version is stale.
    await rotate(randomUUID(), ['createSecret']);
    const token = await rotate();

    const keyset = await current();
    // The abandoned kek-v2 never became current: the new rotation builds on AWSCURRENT again.
    expect(keyset.primary).toBe('kek-v2');
    expect(keyset.keys.map((k) => k.id)).toEqual(['kek-v1', 'kek-v2']);
    const catalog = Object.fromEntries((await deps.catalog.list()).map((k) => [k.id, k.status]));
    expect(catalog['kek-v1']).toBe('rotating');
    expect(catalog[keyset.primary]).toBe('active');
    expect(started).toEqual([{ targetKeyId: keyset.primary, clientToken: token }]);

    // A worker reading AWSCURRENT now decrypts old values and encrypts under the new primary.
    const after = new EnvelopeCipher({ keyring: new HierarchicalKeyring({ kms, secrets, secretId }), policy: await deps.catalog.policy() });
    expect((await after.decrypt(stored, ctx)).toString()).toBe('alice@example.com');
    const rewrapped = await after.rewrap(stored, ctx);
    expect((await after.decrypt(rewrapped, ctx)).toString()).toBe('alice@example.com');
    const stages = (await secrets.describeSecret({ secretId })).versionIdsToStages;
    expect(stages[token]).toContain(AWSCURRENT);
  });

  it('testSecret refuses a pending keyset that would lose a key', async () => {
    await rotate();
    await rotate();
    const token = randomUUID();
    await rotateKeysetSecret(deps, { Step: 'createSecret', SecretId: secretId, ClientRequestToken: token });
    await rotateKeysetSecret(deps, { Step: 'setSecret', SecretId: secretId, ClientRequestToken: token });
    const pending = parseKeyset((await secrets.getSecretValue({ secretId, versionStage: AWSPENDING, versionId: token })).string);
    // Someone hand-edits a pending version without kek-v1.
    const other = randomUUID();
    await secrets.putSecretValue({
      secretId,
      clientRequestToken: other,
      string: serializeKeyset({ ...pending, keys: pending.keys.filter((k) => k.id !== 'kek-v1') }),
      versionStages: [AWSPENDING],
    });
    await expect(rotateKeysetSecret(deps, { Step: 'testSecret', SecretId: secretId, ClientRequestToken: other })).rejects.toBeInstanceOf(RotationSelfTestError);
  });

  it('refuses steps for a version that is not part of a rotation', async () => {
    await rotate();
    await expect(rotateKeysetSecret(deps, { Step: 'setSecret', SecretId: secretId, ClientRequestToken: randomUUID() })).rejects.toBeInstanceOf(RotationStateError);
  });
});
