import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { parseEnvelope, peekKeyId, serializeEnvelope, toText, fromText } from '../../../functions/core/crypto/envelope';
import { AuthenticationError } from '../../../functions/core/crypto/errors';
import { KeyServiceNotFoundError } from '../../../functions/core/crypto/keyrings/key-service-errors';
import { KmsKeyring } from '../../../functions/core/crypto/keyrings/kms';
import { StaticKeyPolicy } from '../../../functions/core/crypto/key-policy';
import { awsClientConfig, countCommands } from '../../support/aws';

// The kms keyring against moto_server through the real @aws-sdk/client-kms:
// one data key per value from GenerateDataKey, Decrypt with the key pinned,
// rewrap by ReEncrypt. moto enforces the encryption context and the key id
// (not key state: disabled/destroyed keys are the KeyPolicy's job).

let keyV1Arn: string;
let keyV2Alias: string;

beforeAll(async () => {
  const client = new KMSClient(awsClientConfig());
  keyV1Arn = (await client.send(new CreateKeyCommand({ Description: 'rekey kms-v1' }))).KeyMetadata?.Arn as string;
  const v2 = await client.send(new CreateKeyCommand({ Description: 'rekey kms-v2' }));
  keyV2Alias = `alias/rekey-test-${randomUUID()}`;
  await client.send(new CreateAliasCommand({ AliasName: keyV2Alias, TargetKeyId: v2.KeyMetadata?.KeyId }));
}, 60_000);

function worker(primary: 'kms-v1' | 'kms-v2', extraKeys: { id: string; kmsKeyId: string }[] = []) {
  const client = new KMSClient(awsClientConfig());
  const calls = countCommands(client);
  const keyring = new KmsKeyring({
    kms: new AwsKmsAdapter(client),
    keys: [{ id: 'kms-v1', kmsKeyId: keyV1Arn }, { id: 'kms-v2', kmsKeyId: keyV2Alias }, ...extraKeys],
    primary,
  });
  return { keyring, calls };
}

const row = (i: number) => ({
  table: 'payments',
  column: 'card',
  rowId: `r-${i}`,
  tenant: i % 2 === 0 ? 'acme' : null,
});

describe('kms keyring on moto (real SDK client)', () => {
  it('round-trips through EnvelopeCipher: one GenerateDataKey per encrypt, one Decrypt per decrypt, with the context', async () => {
    const { keyring, calls } = worker('kms-v1');
    const cipher = await EnvelopeCipher.create({ keyring });
    const value = await cipher.encrypt('4111 1111 1111 1111', row(2));
    expect(peekKeyId(value)).toBe('kms-v1');
    expect((await cipher.decrypt(value, row(2))).toString()).toBe('4111 1111 1111 1111');
    expect(calls.counts).toEqual({ GenerateDataKeyCommand: 1, DecryptCommand: 1 });
    expect(keyring.stats()).toEqual({ kmsCalls: 2, secretsManagerCalls: 0 });
    const decrypt = calls.inputs.find((c) => c.command === 'DecryptCommand')?.input as {
      KeyId: string;
      EncryptionContext: Record<string, string>;
    };
    expect(decrypt.KeyId).toBe(keyV1Arn);
    expect(decrypt.EncryptionContext).toEqual({
      table: 'payments',
      column: 'card',
      rowId: 'r-2',
      tenant: 'acme',
      keyId: 'kms-v1',
      formatVersion: '1',
    });
  });

  it('rewraps N rows from kms-v1 to kms-v2 with exactly one ReEncrypt per row and nothing else', async () => {
    const rows = 40;
    const writer = await EnvelopeCipher.create({ keyring: worker('kms-v1').keyring });
    const stored = await Promise.all(Array.from({ length: rows }, (_, i) => writer.encrypt(`value ${i}`, row(i))));

    const { keyring, calls } = worker('kms-v2');
    const cipher = new EnvelopeCipher({
      keyring,
      policy: new StaticKeyPolicy([
        { id: 'kms-v1', status: 'rotating' },
        { id: 'kms-v2', status: 'active' },
      ]),
    });
    const rewrapped = await Promise.all(stored.map((value, i) => cipher.rewrap(value, row(i))));
    expect(calls.counts).toEqual({ ReEncryptCommand: rows });
    expect(keyring.stats().kmsCalls).toBe(rows);
    const reEncrypt = calls.inputs[0]?.input as Record<string, unknown>;
    expect(reEncrypt.SourceKeyId).toBe(keyV1Arn);
    expect(reEncrypt.DestinationKeyId).toBe(keyV2Alias);

    expect(new Set(rewrapped.map(peekKeyId))).toEqual(new Set(['kms-v2']));
    for (let i = 0; i < rows; i += 1) {
      expect((await cipher.decrypt(rewrapped[i] as string, row(i))).toString()).toBe(`value ${i}`);
    }
    // The nonce and ciphertext did not change: only the wrapped data key did.
    const before = parseEnvelope(stored[0] as string);
    const after = parseEnvelope(rewrapped[0] as string);
    expect(after.sealed.equals(before.sealed)).toBe(true);
    expect(after.wrappedKey.equals(before.wrappedKey)).toBe(false);
  });

  it('a value moved to another row or tenant does not decrypt: KMS refuses the context', async () => {
    const cipher = await EnvelopeCipher.create({ keyring: worker('kms-v2').keyring });
    const value = await cipher.encrypt('v', row(4));
    await expect(cipher.decrypt(value, row(6))).rejects.toBeInstanceOf(AuthenticationError);
    await expect(cipher.decrypt(value, { ...row(4), tenant: 'globex' })).rejects.toBeInstanceOf(AuthenticationError);
    await expect(cipher.decrypt(value, { ...row(4), column: 'cvv' })).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('an envelope relabelled with another rekey key id fails even when both ids map to the same KMS key', async () => {
    const { keyring } = worker('kms-v1', [{ id: 'kms-v1-alias', kmsKeyId: keyV1Arn }]);
    const cipher = await EnvelopeCipher.create({ keyring });
    const value = await cipher.encrypt('v', row(8));
    const relabelled = toText(serializeEnvelope({ ...parseEnvelope(fromText(value)), keyId: 'kms-v1-alias' }));
    const err = await cipher.decrypt(relabelled, row(8)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationError);
  });

  it('a KMS key that does not exist is named', async () => {
    const client = new KMSClient(awsClientConfig());
    const keyring = new KmsKeyring({
      kms: new AwsKmsAdapter(client),
      keys: [{ id: 'kms-v9', kmsKeyId: 'alias/rekey-missing' }],
      primary: 'kms-v9',
    });
    const cipher = await EnvelopeCipher.create({ keyring });
    const err = await cipher.encrypt('v', row(1)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(KeyServiceNotFoundError);
    expect(err?.message).toContain('KMS key "alias/rekey-missing" was not found');
  });
});
