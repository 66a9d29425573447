import { createHash } from 'node:crypto';
import {
  DecryptionFailure,
  GetSecretValueCommand,
  InternalServiceError,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsSecretsAdapter } from '../../../../functions/core/adapters/aws-secrets';
import { wrapAad } from '../../../../functions/core/crypto/envelope-aad';
import {
  AuthenticationError,
  KeyMaterialError,
  KeyringUnavailableError,
  UnknownKeyError,
} from '../../../../functions/core/crypto/errors';
import { HierarchicalKeyring } from '../../../../functions/core/crypto/keyrings/hierarchical';
import {
  KeyServiceAccessDeniedError,
  KeyServiceNotFoundError,
} from '../../../../functions/core/crypto/keyrings/key-service-errors';
import { KeysetFormatError, type Keyset } from '../../../../functions/core/crypto/keyrings/keyset';
import { serializeKeyset } from '../../../../functions/core/crypto/keyrings/keyset-document';
import type { WrapContext } from '../../../../functions/core/crypto/keyring';
import { isRetryable } from '../../../../functions/core/errors';
import type { KmsPort } from '../../../../functions/core/ports/kms';
import type { SecretsPort } from '../../../../functions/core/ports/secrets';

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a rejection');
}

// Real KMS and Secrets Manager (moto) are in test/integration/keyrings. Here:
// the SDK error branches (aws-sdk-client-mock) and the cache's interleavings,
// which need ports whose answers the test releases one at a time.

const ctx = { table: 'users', column: 'email', rowId: '7' };
function wc(keyId: string): WrapContext {
  return { formatVersion: 1, context: ctx, aad: wrapAad(1, keyId, ctx) };
}

function keysetOf(ids: string[], primary: string): Keyset {
  return {
    format: 'rekey-keyset',
    version: 1,
    kmsKeyId: 'alias/root',
    primary,
    keys: ids.map((id) => ({ id, wrapped: Buffer.from(`wrapped:${id}`), createdAt: '2025-01-01T00:00:00.000Z' })),
  };
}

/** A deterministic stand-in for KMS: the "KEK" of a wrapped blob is a hash of it, if the context names the same id. */
class FakeKms implements KmsPort {
  decrypts = 0;
  returned: Buffer[] = [];
  gate: Promise<void> | undefined;

  async decrypt({
    ciphertextBlob,
    context,
  }: {
    ciphertextBlob: Buffer;
    context: Readonly<Record<string, string>>;
  }): Promise<Buffer> {
    this.decrypts += 1;
    if (this.gate) await this.gate;
    if (ciphertextBlob.toString() !== `wrapped:${context.keyId}` || context.purpose !== 'rekey-kek') {
      throw new AuthenticationError('data-key');
    }
    const kek = createHash('sha256').update(ciphertextBlob).digest();
    this.returned.push(kek);
    return kek;
  }
  generateDataKey(): never {
    throw new Error('not used');
  }
  reEncrypt(): never {
    throw new Error('not used');
  }
  encrypt(): never {
    throw new Error('not used');
  }
}

class FakeSecrets implements SecretsPort {
  gets = 0;
  version = 1;
  constructor(public keyset: Keyset) {}
  async getSecretValue(): Promise<{ versionId: string; string: string; stages: string[] }> {
    this.gets += 1;
    return { versionId: `v${this.version}`, string: serializeKeyset(this.keyset), stages: ['AWSCURRENT'] };
  }
  putSecretValue(): never {
    throw new Error('not used');
  }
  describeSecret(): never {
    throw new Error('not used');
  }
  updateSecretVersionStage(): never {
    throw new Error('not used');
  }
}

function deferred(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

/** The KEK buffers the keyring holds right now (white-box: zeroing cannot be seen from outside). */
function heldKeks(keyring: HierarchicalKeyring): Buffer[] {
  const cache = (keyring as unknown as { cache?: { keks: Map<string, Buffer> } }).cache;
  return cache ? [...cache.keks.values()] : [];
}

describe('HierarchicalKeyring cache', () => {
  it('loads once for many concurrent callers and then makes no remote call', async () => {
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1', 'kek-v2'], 'kek-v2'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks' });
    const gate = deferred();
    kms.gate = gate.promise;
    const pending = Array.from({ length: 25 }, () => keyring.generateDataKey('kek-v2', wc('kek-v2')));
    gate.release();
    const keys = await Promise.all(pending);
    expect(secrets.gets).toBe(1);
    expect(kms.decrypts).toBe(2);
    const rewrapped = await keyring.rewrapDataKey('kek-v2', keys[0]!.wrapped, wc('kek-v2'), 'kek-v1', wc('kek-v1'));
    expect((await keyring.unwrapDataKey('kek-v1', rewrapped, wc('kek-v1'))).equals(keys[0]!.plaintext)).toBe(true);
    expect(keyring.stats()).toEqual({ kmsCalls: 2, secretsManagerCalls: 1 });
    // The port's plaintext copies were zeroed as soon as they were copied in.
    expect(kms.returned.every((b) => b.equals(Buffer.alloc(32)))).toBe(true);
  });

  it('refetches after the TTL and zeroes the KEKs it replaces', async () => {
    let now = 1_000;
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks', cacheTtlMs: 60_000, now: () => now });
    await keyring.generateDataKey('kek-v1', wc('kek-v1'));
    const first = heldKeks(keyring);
    expect(first).toHaveLength(1);
    expect(first[0]!.equals(Buffer.alloc(32))).toBe(false);
    now += 59_999;
    await keyring.generateDataKey('kek-v1', wc('kek-v1'));
    expect(secrets.gets).toBe(1);
    now += 1;
    await keyring.generateDataKey('kek-v1', wc('kek-v1'));
    expect(secrets.gets).toBe(2);
    expect(first[0]!.equals(Buffer.alloc(32))).toBe(true);
    expect(heldKeks(keyring)[0]!.equals(Buffer.alloc(32))).toBe(false);
  });

  it('refresh() zeroes now, and a load already in flight is discarded rather than cached', async () => {
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks' });
    await keyring.keyIds();
    const held = heldKeks(keyring);
    await keyring.refresh();
    expect(held[0]!.equals(Buffer.alloc(32))).toBe(true);

    // A load starts, a rotation lands and refresh() runs before the load returns.
    const gate = deferred();
    kms.gate = gate.promise;
    const during = keyring.primaryKeyId();
    await new Promise((resolve) => setImmediate(resolve));
    secrets.keyset = keysetOf(['kek-v1', 'kek-v2'], 'kek-v2');
    await keyring.refresh();
    gate.release();
    expect(await during).toBe('kek-v2');
    // first load, the discarded one, and the reload its caller made
    expect(secrets.gets).toBe(3);
  });

  it('an expired keyset whose reload fails (KMS key disabled) is zeroed, not kept', async () => {
    let now = 0;
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks', cacheTtlMs: 1_000, now: () => now });
    await keyring.keyIds();
    const held = heldKeks(keyring);
    jest.spyOn(kms, 'decrypt').mockRejectedValue(new KeyMaterialError('kms key disabled'));
    now = 1_000;
    await expect(keyring.keyIds()).rejects.toThrow('kms key disabled');
    expect(held[0]!.equals(Buffer.alloc(32))).toBe(true);
    expect(heldKeks(keyring)).toEqual([]);
  });

  it('a failed load is not cached: the next call tries again', async () => {
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const failing = jest
      .spyOn(secrets, 'getSecretValue')
      .mockRejectedValueOnce(new KeyringUnavailableError('throttled'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks' });
    await expect(keyring.keyIds()).rejects.toBeInstanceOf(KeyringUnavailableError);
    expect(await keyring.keyIds()).toEqual(['kek-v1']);
    expect(failing).toHaveBeenCalledTimes(2);
  });

  it('a key id missing from the cache reloads once (a rotation elsewhere), then is unknown', async () => {
    let now = 0;
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks', now: () => now });
    const old = await keyring.generateDataKey('kek-v1', wc('kek-v1'));
    secrets.keyset = keysetOf(['kek-v1', 'kek-v2'], 'kek-v2');
    const moved = await keyring.rewrapDataKey('kek-v1', old.wrapped, wc('kek-v1'), 'kek-v2', wc('kek-v2'));
    expect((await keyring.unwrapDataKey('kek-v2', moved, wc('kek-v2'))).equals(old.plaintext)).toBe(true);
    expect(secrets.gets).toBe(2);
    // A bogus id costs at most one reload per interval.
    now += 5_000;
    await expect(keyring.unwrapDataKey('kek-v9', moved, wc('kek-v9'))).rejects.toBeInstanceOf(UnknownKeyError);
    await expect(keyring.unwrapDataKey('kek-v9', moved, wc('kek-v9'))).rejects.toBeInstanceOf(UnknownKeyError);
    expect(secrets.gets).toBe(3);
  });

  it('a miss whose reload fails leaves the cached keyset serving the keys it has', async () => {
    let now = 0;
    const kms = new FakeKms();
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    const keyring = new HierarchicalKeyring({ kms, secrets, secretId: 'ks', now: () => now, cacheTtlMs: 300_000 });
    const dk = await keyring.generateDataKey('kek-v1', wc('kek-v1'));
    jest.spyOn(secrets, 'getSecretValue').mockRejectedValue(new KeyringUnavailableError('throttled'));
    now += 10_000;
    await expect(keyring.unwrapDataKey('kek-v9', dk.wrapped, wc('kek-v9'))).rejects.toBeInstanceOf(
      KeyringUnavailableError,
    );
    const getsAfterMiss = secrets.gets;
    // Still within the TTL: kek-v1 is served from the cache, with no further Secrets Manager call.
    for (const t of [20_000, 60_000, 120_000]) {
      now = t;
      expect((await keyring.unwrapDataKey('kek-v1', dk.wrapped, wc('kek-v1'))).equals(dk.plaintext)).toBe(true);
    }
    expect(secrets.gets).toBe(getsAfterMiss);
  });

  it('a KEK that KMS refuses names the entry, and no KEK of that load is kept', async () => {
    const kms = new FakeKms();
    const ks = keysetOf(['kek-v1', 'kek-v2'], 'kek-v2');
    const swapped: Keyset = { ...ks, keys: [ks.keys[0]!, { ...ks.keys[1]!, wrapped: ks.keys[0]!.wrapped }] };
    const keyring = new HierarchicalKeyring({ kms, secrets: new FakeSecrets(swapped), secretId: 'ks' });
    const err = await rejection<Error>(keyring.keyIds());
    expect(err).toBeInstanceOf(KeyMaterialError);
    expect((err as Error).message).toContain(
      'secret "ks" (AWSCURRENT): KEK "kek-v2" did not unwrap under KMS key "alias/root"',
    );
    expect(kms.returned.every((b) => b.equals(Buffer.alloc(32)))).toBe(true);
    expect(heldKeks(keyring)).toEqual([]);
  });

  it('a malformed keyset secret lists its problems and names the secret', async () => {
    const secrets = new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1'));
    jest
      .spyOn(secrets, 'getSecretValue')
      .mockResolvedValue({ versionId: 'v1', string: '{"format":"rekey-keyset","version":1}', stages: [] });
    const keyring = new HierarchicalKeyring({
      kms: new FakeKms(),
      secrets,
      secretId: 'ks',
      versionStage: 'AWSPENDING',
    });
    const err = await rejection<KeysetFormatError>(keyring.keyIds());
    expect(err).toBeInstanceOf(KeysetFormatError);
    expect(err.problems).toEqual(['kmsKeyId: missing', 'keys: missing', 'primary: missing']);
    expect(err.message).toContain('keyset in secret "ks" (AWSPENDING) is invalid (3 problems)');
  });

  it('names every configuration problem at once', () => {
    expect(
      () =>
        new HierarchicalKeyring({
          kms: new FakeKms(),
          secrets: new FakeSecrets(keysetOf(['kek-v1'], 'kek-v1')),
          secretId: '',
          versionStage: '',
          cacheTtlMs: 0,
          missReloadIntervalMs: -1,
        }),
    ).toThrow(
      'hierarchical keyring configuration is invalid: secretId: expected the keyset secret name or ARN; ' +
        'versionStage: expected a stage label such as AWSCURRENT or AWSPENDING; cacheTtlMs: expected 1-86400000 ms, got 0; ' +
        'missReloadIntervalMs: expected 0 or more ms, got -1',
    );
  });
});

describe('AwsSecretsAdapter error mapping', () => {
  function setup(): { mock: ReturnType<typeof mockClient>; keyring: HierarchicalKeyring; adapter: AwsSecretsAdapter } {
    const client = new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    const mock = mockClient(client);
    const adapter = new AwsSecretsAdapter(client);
    const keyring = new HierarchicalKeyring({ kms: new FakeKms(), secrets: adapter, secretId: 'prod/rekey/keyset' });
    return { mock, keyring, adapter };
  }

  it('throttling and service errors are retryable KeyringUnavailableErrors', async () => {
    const { mock, keyring, adapter } = setup();
    mock
      .on(GetSecretValueCommand)
      .rejectsOnce(
        Object.assign(new Error('Rate exceeded'), {
          name: 'ThrottlingException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        }),
      )
      .rejectsOnce(new InternalServiceError({ message: 'oops', $metadata: { httpStatusCode: 500 } }));
    for (let i = 0; i < 2; i += 1) {
      const err = await rejection<Error>(keyring.keyIds());
      expect(err).toBeInstanceOf(KeyringUnavailableError);
      expect(isRetryable(err)).toBe(true);
      expect(err.message).toContain('secretsmanager:GetSecretValue on "prod/rekey/keyset"');
    }
    expect(adapter.callCounts().GetSecretValue).toBe(2);
    expect(keyring.stats().secretsManagerCalls).toBe(2);
  });

  it('access denied names the secret and the permission, and is not retryable', async () => {
    const { mock, keyring } = setup();
    mock.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('denied'), {
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const err = await rejection<Error>(keyring.keyIds());
    expect(err).toBeInstanceOf(KeyServiceAccessDeniedError);
    expect(isRetryable(err)).toBe(false);
    expect(err.message).toBe(
      'secretsmanager:GetSecretValue on secret "prod/rekey/keyset" was denied (AccessDeniedException): ' +
        'allow secretsmanager:GetSecretValue on it for the role rekey runs as (IAM policy and resource policy)',
    );
  });

  it('a secret Secrets Manager cannot decrypt points at its KMS key', async () => {
    const { mock, keyring } = setup();
    mock
      .on(GetSecretValueCommand)
      .rejects(new DecryptionFailure({ message: 'kms', $metadata: { httpStatusCode: 400 } }));
    const err = await rejection<Error>(keyring.keyIds());
    expect(err).toBeInstanceOf(KeyServiceAccessDeniedError);
    expect(err.message).toContain('allow kms:Decrypt on the KMS key that encrypts this secret');
  });

  it('a missing secret or stage says which stage was asked for', async () => {
    const { mock, keyring } = setup();
    mock
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'nope', $metadata: { httpStatusCode: 400 } }));
    const err = await rejection<Error>(keyring.keyIds());
    expect(err).toBeInstanceOf(KeyServiceNotFoundError);
    expect(err.message).toBe(
      'secretsmanager:GetSecretValue: secret "prod/rekey/keyset" was not found (or it has no version labelled AWSCURRENT): check the secret name or ARN and the region',
    );
    expect(mock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'prod/rekey/keyset',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('a binary secret is refused with what to do', async () => {
    const { mock, keyring } = setup();
    mock.on(GetSecretValueCommand).resolves({ VersionId: 'v1', SecretBinary: new Uint8Array([1, 2]) });
    await expect(keyring.keyIds()).rejects.toThrow('the keyset must be stored as a string');
  });
});
