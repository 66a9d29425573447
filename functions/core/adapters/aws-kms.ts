import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { KeyServiceRejectedError } from '../crypto/keyrings/key-service-errors';
import type {
  KmsDataKey,
  KmsDecryptInput,
  KmsEncryptInput,
  KmsGenerateDataKeyInput,
  KmsPort,
  KmsReEncryptInput,
} from '../ports/kms';
import { mapAwsError } from './aws-error-mapping';

export type KmsOperation = 'GenerateDataKey' | 'Decrypt' | 'ReEncrypt' | 'Encrypt';

/**
 * KmsPort over @aws-sdk/client-kms. Every request made is counted per
 * operation (including failed ones), so benchmarks and tests can report the
 * KMS calls a rotation cost. Transient SDK failures become
 * KeyringUnavailableError; the rest become typed, non-retryable errors that
 * name the key and the permission (see aws-error-mapping.ts).
 */
export class AwsKmsAdapter implements KmsPort {
  private readonly counts: Record<KmsOperation, number> = { GenerateDataKey: 0, Decrypt: 0, ReEncrypt: 0, Encrypt: 0 };

  constructor(private readonly client: KMSClient) {}

  /** An adapter over a new client; `config` is passed to KMSClient as-is (region, endpoint, credentials). */
  static fromConfig(config: KMSClientConfig = {}): AwsKmsAdapter {
    return new AwsKmsAdapter(new KMSClient(config));
  }

  /** Requests sent so far, per operation. */
  callCounts(): Readonly<Record<KmsOperation, number>> {
    return { ...this.counts };
  }

  totalCalls(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }

  async generateDataKey({ keyId, context }: KmsGenerateDataKeyInput): Promise<KmsDataKey> {
    const out = await this.call('GenerateDataKey', keyId, () =>
      this.client.send(
        new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
      ),
    );
    return {
      plaintext: this.bytes(out.Plaintext, 'GenerateDataKey', keyId, 'Plaintext'),
      ciphertextBlob: this.bytes(out.CiphertextBlob, 'GenerateDataKey', keyId, 'CiphertextBlob'),
    };
  }

  async decrypt({ ciphertextBlob, keyId, context }: KmsDecryptInput): Promise<Buffer> {
    const out = await this.call('Decrypt', keyId, () =>
      this.client.send(
        new DecryptCommand({ CiphertextBlob: ciphertextBlob, KeyId: keyId, EncryptionContext: { ...context } }),
      ),
    );
    return this.bytes(out.Plaintext, 'Decrypt', keyId, 'Plaintext');
  }

  async reEncrypt(input: KmsReEncryptInput): Promise<Buffer> {
    const out = await this.call('ReEncrypt', `${input.sourceKeyId} -> ${input.destinationKeyId}`, () =>
      this.client.send(
        new ReEncryptCommand({
          CiphertextBlob: input.ciphertextBlob,
          SourceKeyId: input.sourceKeyId,
          SourceEncryptionContext: { ...input.sourceContext },
          DestinationKeyId: input.destinationKeyId,
          DestinationEncryptionContext: { ...input.destinationContext },
        }),
      ),
    );
    return this.bytes(out.CiphertextBlob, 'ReEncrypt', input.destinationKeyId, 'CiphertextBlob');
  }

  async encrypt({ keyId, plaintext, context }: KmsEncryptInput): Promise<Buffer> {
    const out = await this.call('Encrypt', keyId, () =>
      this.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: { ...context } })),
    );
    return this.bytes(out.CiphertextBlob, 'Encrypt', keyId, 'CiphertextBlob');
  }

  private async call<T>(operation: KmsOperation, resource: string, send: () => Promise<T>): Promise<T> {
    this.counts[operation] += 1;
    try {
      return await send();
    } catch (err) {
      // ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination.
      const permission =
        operation === 'ReEncrypt' ? 'kms:ReEncryptFrom (source key) and kms:ReEncryptTo (destination key)' : undefined;
      throw mapAwsError(err, { service: 'kms', operation, resource }, { permission });
    }
  }

  /**
   * A Buffer view of the SDK's bytes. No copy: zeroing the returned Buffer
   * zeroes the only plaintext copy the SDK handed over.
   */
  private bytes(value: Uint8Array | undefined, operation: KmsOperation, resource: string, field: string): Buffer {
    if (value === undefined || value.byteLength === 0) {
      throw new KeyServiceRejectedError({ service: 'kms', operation, resource }, `the response carried no ${field}`);
    }
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
}
