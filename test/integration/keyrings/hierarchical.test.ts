import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../../functions/core/adapters/aws-secrets';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { AuthenticationError, KeyMaterialError } from '../../../functions/core/crypto/errors';
import { HierarchicalKeyring } from '../../../functions/core/crypto/keyrings/hierarchical';
import { KeyServiceNotFoundError } from '../../../functions/core/crypto/keyrings/key-service-errors';
import { kekContext, type Keyset } from '../../../functions/core/crypto/keyrings/keyset';
import {
  addKeyVersion,
  createKeyset,
  generateWrappedKek,
  nextKeyId,
} from '../../../functions/core/crypto/keyrings/keyset-changes';
import { parseKeyset, serializeKeyset } from '../../../functions/core/crypto/keyrings/keyset-document';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { StaticKeyPolicy } from '../../../functions/core/crypto/key-policy';
import { AWSCURRENT, AWSPENDING } from '../../../functions/core/ports/secrets';
import { awsClientConfig, countCommands } from '../../support/aws';

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a rejection');
}

// The hierarchical keyring against moto_server through the real AWS SDK v3
// clients: a KMS key, a keyset secret, and a "worker" keyring per test with
// its own clients, so every call it makes is counted twice — by the keyring
// (stats) and by a middleware on the SDK client.

let admin: { kms: AwsKmsAdapter; secrets: AwsSecretsAdapter };
let kmsKeyArn: string;

beforeAll(async () => {
  const config = awsClientConfig();
  admin = { kms: AwsKmsAdapter.fromConfig(config), secrets: AwsSecretsAdapter.fromConfig(config) };
  const created = await new KMSClient(config).send(
    new CreateKeyCommand({ Description: 'rekey hierarchical keyring test' }),
  );
  kmsKeyArn = created.KeyMetadata?.Arn as string;
}, 60_000);

/** A fresh keyset secret holding kek-v1 (primary). */
async function newKeysetSecret(): Promise<{ secretId: string; keyset: Keyset }> {
  const keyset = await createKeyset(admin.kms, kmsKeyArn);
  const name = `rekey/test/keyset-${randomUUID()}`;
  const client = new SecretsManagerClient(awsClientConfig());
  const out = await client.send(new CreateSecretCommand({ Name: name, SecretString: serializeKeyset(keyset) }));
  return { secretId: out.ARN as string, keyset };
}

/** What the rotation hook will do: add kek-vN+1 as primary and store the whole keyset under `stage`. */
async function rotate(secretId: string, stage: string = AWSCURRENT): Promise<{ keyset: Keyset; versionId: string }> {
  const current = parseKeyset((await admin.secrets.getSecretValue({ secretId, versionStage: AWSCURRENT })).string);
  const kek = await generateWrappedKek(admin.kms, current.kmsKeyId, nextKeyId(current));
  const keyset = addKeyVersion(current, kek, { makePrimary: true });
  const { versionId } = await admin.secrets.putSecretValue({
    secretId,
    clientRequestToken: randomUUID(),
    string: serializeKeyset(keyset),
    versionStages: [stage],
  });
  return { keyset, versionId };
}

/** A keyring with its own SDK clients and command counters, as one Lambda worker would have. */
function worker(secretId: string, options: { versionStage?: string; cacheTtlMs?: number; now?: () => number } = {}) {
  const config = awsClientConfig();
  const kmsClient = new KMSClient(config);
  const secretsClient = new SecretsManagerClient(config);
  const kmsCalls = countCommands(kmsClient);
  const secretsCalls = countCommands(secretsClient);
  const keyring = new HierarchicalKeyring({
    kms: new AwsKmsAdapter(kmsClient),
    secrets: new AwsSecretsAdapter(secretsClient),
    secretId,
    ...options,
  });
  return { keyring, kmsCalls, secretsCalls };
}

const rowContext = (i: number) => ({ table: 'users', column: 'ssn', rowId: String(i), tenant: 'acme' });

describe('hierarchical keyring on moto (real SDK clients)', () => {
  it('round-trips values through EnvelopeCipher with the keyset from Secrets Manager', async () => {
    const { secretId } = await newKeysetSecret();
    const { keyring } = worker(secretId);
    const cipher = await EnvelopeCipher.create({ keyring });
    const text = await cipher.encrypt('123-45-6789', rowContext(1));
    expect(text.startsWith('rk1:')).toBe(true);
    expect(peekKeyId(text)).toBe('kek-v1');
    expect((await cipher.decrypt(text, rowContext(1))).toString()).toBe('123-45-6789');
    const binary = await cipher.encrypt(Buffer.from([0, 1, 2, 255]), rowContext(2));
    expect([...(await cipher.decrypt(binary, rowContext(2)))]).toEqual([0, 1, 2, 255]);
  });

  it('rewraps N rows across KEK versions for 1 GetSecretValue + 1 Decrypt per KEK, and no KMS call per row', async () => {
    const { secretId } = await newKeysetSecret();
    const rows = 300;
    const writer = await EnvelopeCipher.create({ keyring: worker(secretId).keyring });
    const stored = await Promise.all(
      Array.from({ length: rows }, (_, i) => writer.encrypt(`secret value ${i}`, rowContext(i))),
    );
    expect(new Set(stored.map(peekKeyId))).toEqual(new Set(['kek-v1']));

    await rotate(secretId); // kek-v2 becomes primary; AWSCURRENT holds kek-v1 and kek-v2

    const { keyring, kmsCalls, secretsCalls } = worker(secretId);
    const cipher = await EnvelopeCipher.create({ keyring });
    const rewrapped = await Promise.all(stored.map((value, i) => cipher.rewrap(value, rowContext(i))));
    expect(new Set(rewrapped.map(peekKeyId))).toEqual(new Set(['kek-v2']));
    for (let i = 0; i < rows; i += 1) {
      expect((await cipher.decrypt(rewrapped[i] as string, rowContext(i))).toString()).toBe(`secret value ${i}`);
    }
    expect(keyring.stats()).toEqual({ kmsCalls: 2, secretsManagerCalls: 1 });
    expect(kmsCalls.counts).toEqual({ DecryptCommand: 2 });
    expect(secretsCalls.counts).toEqual({ GetSecretValueCommand: 1 });
  });

  it('fetches the keyset again once the TTL has passed, never within it', async () => {
    const { secretId } = await newKeysetSecret();
    let now = 0;
    const { keyring, kmsCalls, secretsCalls } = worker(secretId, { cacheTtlMs: 10_000, now: () => now });
    const cipher = await EnvelopeCipher.create({ keyring });
    const value = await cipher.encrypt('v', rowContext(1));
    now = 9_999;
    await cipher.decrypt(value, rowContext(1));
    expect(secretsCalls.counts.GetSecretValueCommand).toBe(1);
    now = 10_000;
    await rotate(secretId);
    await cipher.decrypt(value, rowContext(1));
    expect(secretsCalls.counts.GetSecretValueCommand).toBe(2);
    expect(kmsCalls.counts.DecryptCommand).toBe(1 + 2); // kek-v1, then kek-v1 and kek-v2
    expect(await keyring.primaryKeyId()).toBe('kek-v2');
  });

  it('picks up a rotation made by another worker when asked for the new key, before the TTL', async () => {
    const { secretId } = await newKeysetSecret();
    const { keyring, secretsCalls } = worker(secretId);
    // The key catalog's view after the rotation: kek-v2 active, kek-v1 rotating.
    const policy = new StaticKeyPolicy([
      { id: 'kek-v1', status: 'rotating' },
      { id: 'kek-v2', status: 'active' },
    ]);
    const cipher = new EnvelopeCipher({ keyring, policy });
    const value = await (await EnvelopeCipher.create({ keyring })).encrypt('v', rowContext(3));
    await rotate(secretId);
    const moved = await cipher.rewrap(value, rowContext(3));
    expect(peekKeyId(moved)).toBe('kek-v2');
    expect(secretsCalls.counts.GetSecretValueCommand).toBe(2);
  });

  it('a value moved to another row, column or tenant does not decrypt', async () => {
    const { secretId } = await newKeysetSecret();
    const cipher = await EnvelopeCipher.create({ keyring: worker(secretId).keyring });
    const value = await cipher.encrypt('v', rowContext(5));
    for (const elsewhere of [
      rowContext(6),
      { ...rowContext(5), column: 'email' },
      { ...rowContext(5), tenant: 'other' },
      { ...rowContext(5), tenant: null },
    ]) {
      await expect(cipher.decrypt(value, elsewhere)).rejects.toBeInstanceOf(AuthenticationError);
    }
  });

  it('a wrapped KEK copied under another id is refused by KMS (encryption context) and named', async () => {
    const { secretId } = await newKeysetSecret();
    const { keyset } = await rotate(secretId);
    const [v1, v2] = keyset.keys;
    const tampered: Keyset = { ...keyset, keys: [v1!, { ...v2!, wrapped: v1!.wrapped }] };
    await admin.secrets.putSecretValue({
      secretId,
      clientRequestToken: randomUUID(),
      string: serializeKeyset(tampered),
      versionStages: [AWSCURRENT],
    });
    const err = await rejection(worker(secretId).keyring.keyIds());
    expect(err).toBeInstanceOf(KeyMaterialError);
    expect(err.message).toContain('KEK "kek-v2" did not unwrap');
    expect(err.message).toContain(kmsKeyArn);
  });

  it('reads AWSCURRENT even when a newer AWSPENDING exists, and AWSPENDING only when asked', async () => {
    const { secretId } = await newKeysetSecret();
    const current = await admin.secrets.describeSecret({ secretId });
    const currentVersion = Object.entries(current.versionIdsToStages).find(([, stages]) =>
      stages.includes(AWSCURRENT),
    )?.[0];
    const pending = await rotate(secretId, AWSPENDING); // a stale rotation left kek-v2 pending

    const live = worker(secretId);
    expect(await live.keyring.primaryKeyId()).toBe('kek-v1');
    expect(await live.keyring.keyIds()).toEqual(['kek-v1']);
    expect(await live.keyring.versionIdInUse()).toBe(currentVersion);
    expect(live.secretsCalls.inputs).toEqual([
      { command: 'GetSecretValueCommand', input: { SecretId: secretId, VersionStage: AWSCURRENT } },
    ]);

    const selfTest = worker(secretId, { versionStage: AWSPENDING });
    expect(await selfTest.keyring.primaryKeyId()).toBe('kek-v2');
    expect(await selfTest.keyring.versionIdInUse()).toBe(pending.versionId);
  });

  it('wraps data keys exactly as the raw keyring does, given the same KEK', async () => {
    const { secretId, keyset } = await newKeysetSecret();
    const cipher = await EnvelopeCipher.create({ keyring: worker(secretId).keyring });
    const value = await cipher.encrypt('same bytes', rowContext(9));
    const kek = await admin.kms.decrypt({
      ciphertextBlob: keyset.keys[0]!.wrapped,
      keyId: kmsKeyArn,
      context: kekContext('kek-v1'),
    });
    const raw = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: kek }]) });
    kek.fill(0);
    expect((await raw.decrypt(value, rowContext(9))).toString()).toBe('same bytes');
    const back = await raw.encrypt('other way', rowContext(10));
    expect((await cipher.decrypt(back, rowContext(10))).toString()).toBe('other way');
  });

  it('a missing secret and a missing KMS key are named', async () => {
    const missing = worker(`rekey/test/absent-${randomUUID()}`);
    const err = await rejection<Error>(missing.keyring.keyIds());
    expect(err).toBeInstanceOf(KeyServiceNotFoundError);
    expect(err.message).toContain('has no version labelled AWSCURRENT');
    await expect(createKeyset(admin.kms, 'alias/rekey-does-not-exist')).rejects.toBeInstanceOf(KeyServiceNotFoundError);
  });
});
