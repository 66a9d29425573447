import {
  DecryptCommand,
  DisabledException,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSInternalException,
  NotFoundException,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsKmsAdapter } from '../../../../functions/core/adapters/aws-kms';
import {
  AuthenticationError,
  CryptoError,
  KeyMaterialError,
  KeyringUnavailableError,
  UnknownKeyError,
} from '../../../../functions/core/crypto/errors';
import {
  KeyServiceAccessDeniedError,
  KeyServiceNotFoundError,
  KeyServiceRejectedError,
} from '../../../../functions/core/crypto/keyrings/key-service-errors';
import { KmsKeyring, kmsContext } from '../../../../functions/core/crypto/keyrings/kms';
import type { WrapContext } from '../../../../functions/core/crypto/keyring';
import { isRetryable } from '../../../../functions/core/errors';

// aws-sdk-client-mock is used here for the error branches only; the happy
// paths run against moto_server in test/integration/keyrings.

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const wrapContext: WrapContext = {
  formatVersion: 1,
  context: { table: 'users', column: 'email', rowId: '42', tenant: 'acme' },
  aad: Buffer.from('aad'),
};

/** An error shaped like the ones the SDK throws for a service response. */
function serviceError(name: string, status: number, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(`${name} from the service`), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
  });
}

function setup(): {
  client: KMSClient;
  mock: ReturnType<typeof mockClient>;
  adapter: AwsKmsAdapter;
  keyring: KmsKeyring;
} {
  const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const mock = mockClient(client);
  const adapter = new AwsKmsAdapter(client);
  const keyring = new KmsKeyring({
    kms: adapter,
    keys: [
      { id: 'kms-v1', kmsKeyId: KEY_ARN },
      { id: 'kms-v2', kmsKeyId: 'alias/rekey-v2' },
    ],
    primary: 'kms-v2',
  });
  return { client, mock, adapter, keyring };
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('AwsKmsAdapter error mapping', () => {
  it('throttling becomes a retryable KeyringUnavailableError naming the call', async () => {
    const { mock, keyring, adapter } = setup();
    mock.on(DecryptCommand).rejects(serviceError('ThrottlingException', 400));
    const err = await caught(keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext));
    expect(err).toBeInstanceOf(KeyringUnavailableError);
    expect(isRetryable(err)).toBe(true);
    expect(err.message).toContain(`kms:Decrypt on "${KEY_ARN}"`);
    expect(err.message).toContain('ThrottlingException');
    expect(keyring.stats().kmsCalls).toBe(1);
    expect(adapter.callCounts().Decrypt).toBe(1);
  });

  it('5xx, KMS internal errors and network failures are retryable too', async () => {
    const { mock, keyring } = setup();
    mock
      .on(GenerateDataKeyCommand)
      .rejectsOnce(new KMSInternalException({ message: 'internal', $metadata: { httpStatusCode: 500 } }))
      .rejectsOnce(serviceError('ServiceUnavailable', 503, 'server'))
      .rejectsOnce(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    for (let i = 0; i < 4; i += 1) {
      const err = await caught(keyring.generateDataKey('kms-v2', wrapContext));
      expect(err).toBeInstanceOf(KeyringUnavailableError);
      expect(isRetryable(err)).toBe(true);
    }
  });

  it('access denied is not retryable and says which permission on which key', async () => {
    const { mock, keyring } = setup();
    mock.on(GenerateDataKeyCommand).rejects(serviceError('AccessDeniedException', 400));
    const err = await caught(keyring.generateDataKey('kms-v2', wrapContext));
    expect(err).toBeInstanceOf(KeyServiceAccessDeniedError);
    expect(err).toBeInstanceOf(CryptoError);
    expect(isRetryable(err)).toBe(false);
    expect(err.message).toBe(
      'kms:GenerateDataKey on KMS key "alias/rekey-v2" was denied (AccessDeniedException): allow kms:GenerateDataKey on it ' +
        'for the role rekey runs as (IAM policy, key policy and any kms:EncryptionContext condition)',
    );
    expect((err as KeyServiceAccessDeniedError).action).toBe('kms:GenerateDataKey');
  });

  it('access denied on ReEncrypt names both ReEncrypt permissions and both keys', async () => {
    const { mock, keyring } = setup();
    mock.on(ReEncryptCommand).rejects(serviceError('AccessDeniedException', 400));
    const err = await caught(keyring.rewrapDataKey('kms-v1', Buffer.from('blob'), wrapContext, 'kms-v2', wrapContext));
    expect(err).toBeInstanceOf(KeyServiceAccessDeniedError);
    expect(err.message).toContain('kms:ReEncryptFrom (source key) and kms:ReEncryptTo (destination key)');
    expect(err.message).toContain(`${KEY_ARN} -> alias/rekey-v2`);
  });

  it('an invalid ciphertext or wrong key is an AuthenticationError on the data key', async () => {
    const { mock, keyring } = setup();
    mock
      .on(DecryptCommand)
      .rejectsOnce(new InvalidCiphertextException({ message: 'bad', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(new IncorrectKeyException({ message: 'other key', $metadata: { httpStatusCode: 400 } }));
    for (let i = 0; i < 2; i += 1) {
      const err = await caught(keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as AuthenticationError).part).toBe('data-key');
      expect(isRetryable(err)).toBe(false);
    }
  });

  it('a missing or disabled key says what to check', async () => {
    const { mock, keyring } = setup();
    mock
      .on(GenerateDataKeyCommand)
      .rejectsOnce(new NotFoundException({ message: 'Alias is not found.', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(new DisabledException({ message: 'disabled', $metadata: { httpStatusCode: 400 } }))
      .rejectsOnce(serviceError('ValidationException', 400));
    const notFound = await caught(keyring.generateDataKey('kms-v2', wrapContext));
    expect(notFound).toBeInstanceOf(KeyServiceNotFoundError);
    expect(notFound.message).toBe(
      'kms:GenerateDataKey: KMS key "alias/rekey-v2" was not found: check the key id, ARN or alias and the region',
    );
    const disabled = await caught(keyring.generateDataKey('kms-v2', wrapContext));
    expect(disabled).toBeInstanceOf(KeyServiceRejectedError);
    expect(disabled.message).toContain(
      'disabled or pending deletion (DisabledException): enable it or cancel its deletion',
    );
    const other = await caught(keyring.generateDataKey('kms-v2', wrapContext));
    expect(other).toBeInstanceOf(KeyServiceRejectedError);
    expect(other.message).toContain('ValidationException');
    expect([notFound, disabled, other].some(isRetryable)).toBe(false);
  });

  it('invalid credentials are not blamed on a policy', async () => {
    const { mock, keyring } = setup();
    mock.on(DecryptCommand).rejects(serviceError('UnrecognizedClientException', 400));
    const err = await caught(keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext));
    expect(err).toBeInstanceOf(KeyServiceRejectedError);
    expect(err.message).toContain('the AWS credentials are invalid or expired');
  });

  it('an error that did not come from the SDK passes through unchanged', async () => {
    const { mock, keyring } = setup();
    const bug = new TypeError('a bug');
    mock.on(DecryptCommand).rejects(bug);
    expect(await caught(keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext))).toBe(bug);
  });

  it('a data key of the wrong size is refused and zeroed', async () => {
    const { mock, keyring } = setup();
    const short = new Uint8Array(16).fill(7);
    mock.on(DecryptCommand).resolves({ Plaintext: short, KeyId: KEY_ARN });
    const err = await caught(keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext));
    expect(err).toBeInstanceOf(KeyServiceRejectedError);
    expect(err.message).toContain('16-byte data key');
    expect(short.every((b) => b === 0)).toBe(true);
  });

  it('pins the KMS key id and sends the full encryption context', async () => {
    const { mock, keyring } = setup();
    mock.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32).fill(1), KeyId: KEY_ARN });
    const key = await keyring.unwrapDataKey('kms-v1', Buffer.from('blob'), wrapContext);
    expect(key.equals(Buffer.alloc(32, 1))).toBe(true);
    const input = mock.commandCalls(DecryptCommand)[0]?.args[0].input;
    expect(input?.KeyId).toBe(KEY_ARN);
    expect(input?.EncryptionContext).toEqual({
      table: 'users',
      column: 'email',
      rowId: '42',
      tenant: 'acme',
      keyId: 'kms-v1',
      formatVersion: '1',
    });
  });
});

describe('KmsKeyring', () => {
  const kms = new AwsKmsAdapter(new KMSClient({ region: 'eu-west-1' }));

  it('lists the primary first and maps catalog ids to KMS keys', async () => {
    const keyring = new KmsKeyring({
      kms,
      keys: [
        { id: 'kms-v1', kmsKeyId: KEY_ARN },
        { id: 'kms-v2', kmsKeyId: 'alias/b' },
      ],
      primary: 'kms-v2',
    });
    expect(await keyring.keyIds()).toEqual(['kms-v2', 'kms-v1']);
    expect(await keyring.primaryKeyId()).toBe('kms-v2');
    expect(keyring.kmsKeyIdOf('kms-v1')).toBe(KEY_ARN);
    expect(keyring.kind).toBe('kms');
  });

  it('refuses an unknown catalog id before calling KMS', async () => {
    const keyring = new KmsKeyring({ kms, keys: [{ id: 'kms-v1', kmsKeyId: KEY_ARN }], primary: 'kms-v1' });
    await expect(keyring.unwrapDataKey('kms-v9', Buffer.from('x'), wrapContext)).rejects.toBeInstanceOf(
      UnknownKeyError,
    );
    await expect(
      keyring.rewrapDataKey('kms-v1', Buffer.from('x'), wrapContext, 'kms-v9', wrapContext),
    ).rejects.toBeInstanceOf(UnknownKeyError);
    expect(keyring.stats()).toEqual({ kmsCalls: 0, secretsManagerCalls: 0 });
  });

  it('names every configuration problem at once', () => {
    expect(
      () =>
        new KmsKeyring({
          kms,
          keys: [
            { id: 'kms-v1', kmsKeyId: '' },
            { id: 'kms-v1', kmsKeyId: KEY_ARN },
          ],
          primary: 'kms-v3',
        }),
    ).toThrow(
      new KeyMaterialError(
        'kms keyring configuration is invalid: keys[0].kmsKeyId: expected a KMS key id, ARN or alias; keys[1].id: duplicate id "kms-v1"; primary: "kms-v3" is not one of the keys',
      ),
    );
    expect(() => new KmsKeyring({ kms, keys: [], primary: 'x' })).toThrow(/at least one/);
  });

  it('the KMS encryption context leaves tenant out when there is none', () => {
    expect(
      kmsContext('kms-v2', {
        formatVersion: 1,
        context: { table: 't', column: 'c', rowId: '1', tenant: null },
        aad: Buffer.alloc(0),
      }),
    ).toEqual({
      table: 't',
      column: 'c',
      rowId: '1',
      keyId: 'kms-v2',
      formatVersion: '1',
    });
  });
});
