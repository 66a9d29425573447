import type { KmsEncryptionContext, KmsPort } from '../../ports/kms';
import { KeyMaterialError, UnknownKeyError } from '../errors';
import type { GeneratedDataKey, Keyring, KeyringKind, KeyringStats, RewrapArgs, WrapContext } from '../keyring';
import { KeyServiceRejectedError } from './key-service-errors';

const DATA_KEY_BYTES = 32;

/** One catalog key of the kms keyring: rekey's id and the KMS key behind it. */
export interface KmsKeyMapping {
  /** Catalog id, e.g. `kms-v1`; written in clear in every envelope header. */
  readonly id: string;
  /** KMS key id, key ARN, alias name (`alias/...`) or alias ARN. */
  readonly kmsKeyId: string;
}

export interface KmsKeyringOptions {
  readonly kms: KmsPort;
  readonly keys: readonly KmsKeyMapping[];
  /** Catalog id of the key new data keys are generated under. */
  readonly primary: string;
}

/**
 * Data key per value from AWS KMS. Every data key is generated, unwrapped and
 * rewrapped by KMS with an encryption context naming the table, column, row
 * id, tenant, rekey key id and envelope format version, so CloudTrail records
 * each decrypt with the place of the value, and a wrapped key moved to
 * another row does not decrypt. Rewrap is kms:ReEncrypt: the plaintext data
 * key never leaves KMS. Costs one KMS call per value per operation; the
 * hierarchical keyring is the one without per-row KMS calls.
 */
export class KmsKeyring implements Keyring {
  readonly kind: KeyringKind = 'kms';
  private readonly kms: KmsPort;
  private readonly kmsKeyIds = new Map<string, string>();
  private readonly primary: string;
  private readonly counts: KeyringStats = { kmsCalls: 0, secretsManagerCalls: 0 };

  constructor(options: KmsKeyringOptions) {
    const problems: string[] = [];
    if (!Array.isArray(options.keys) || options.keys.length === 0)
      problems.push('keys: at least one { id, kmsKeyId } is required');
    for (const [i, key] of (options.keys ?? []).entries()) {
      if (typeof key?.id !== 'string' || key.id === '') problems.push(`keys[${i}].id: expected a non-empty string`);
      else if (this.kmsKeyIds.has(key.id)) problems.push(`keys[${i}].id: duplicate id ${JSON.stringify(key.id)}`);
      if (typeof key?.kmsKeyId !== 'string' || key.kmsKeyId === '')
        problems.push(`keys[${i}].kmsKeyId: expected a KMS key id, ARN or alias`);
      if (typeof key?.id === 'string' && typeof key.kmsKeyId === 'string') this.kmsKeyIds.set(key.id, key.kmsKeyId);
    }
    if (!this.kmsKeyIds.has(options.primary))
      problems.push(`primary: ${JSON.stringify(options.primary)} is not one of the keys`);
    if (problems.length > 0) throw new KeyMaterialError(`kms keyring configuration is invalid: ${problems.join('; ')}`);
    this.kms = options.kms;
    this.primary = options.primary;
  }

  async keyIds(): Promise<readonly string[]> {
    return [this.primary, ...[...this.kmsKeyIds.keys()].filter((id) => id !== this.primary)];
  }

  async primaryKeyId(): Promise<string> {
    return this.primary;
  }

  /** The KMS key behind a catalog id (for IAM policies, logs and the CLI). */
  kmsKeyIdOf(keyId: string): string {
    return this.resolve(keyId);
  }

  async generateDataKey(keyId: string, wrapContext: WrapContext): Promise<GeneratedDataKey> {
    const kmsKeyId = this.resolve(keyId);
    this.counts.kmsCalls += 1;
    const { plaintext, ciphertextBlob } = await this.kms.generateDataKey({
      keyId: kmsKeyId,
      context: kmsContext(keyId, wrapContext),
    });
    assertDataKey(plaintext, 'GenerateDataKey', kmsKeyId);
    return { keyId, plaintext, wrapped: ciphertextBlob };
  }

  async unwrapDataKey(keyId: string, wrapped: Buffer, wrapContext: WrapContext): Promise<Buffer> {
    const kmsKeyId = this.resolve(keyId);
    this.counts.kmsCalls += 1;
    // KeyId is pinned: a blob made under another KMS key is refused, not decrypted.
    const plaintext = await this.kms.decrypt({
      ciphertextBlob: wrapped,
      keyId: kmsKeyId,
      context: kmsContext(keyId, wrapContext),
    });
    assertDataKey(plaintext, 'Decrypt', kmsKeyId);
    return plaintext;
  }

  async rewrapDataKey(...[keyId, wrapped, wrapContext, targetKeyId, targetContext]: RewrapArgs): Promise<Buffer> {
    const sourceKmsKeyId = this.resolve(keyId);
    const destinationKmsKeyId = this.resolve(targetKeyId);
    this.counts.kmsCalls += 1;
    return this.kms.reEncrypt({
      ciphertextBlob: wrapped,
      sourceKeyId: sourceKmsKeyId,
      sourceContext: kmsContext(keyId, wrapContext),
      destinationKeyId: destinationKmsKeyId,
      destinationContext: kmsContext(targetKeyId, targetContext),
    });
  }

  /** Nothing is cached: every operation asks KMS. */
  async refresh(): Promise<void> {}

  stats(): KeyringStats {
    return { ...this.counts };
  }

  private resolve(keyId: string): string {
    const kmsKeyId = this.kmsKeyIds.get(keyId);
    if (kmsKeyId === undefined) throw new UnknownKeyError(keyId);
    return kmsKeyId;
  }
}

/**
 * The KMS encryption context of a data key: where the value lives plus the
 * rekey key id and format version, all of which the envelope's own AAD binds
 * too. `tenant` is present only when the value has one.
 */
export function kmsContext(keyId: string, wrapContext: WrapContext): KmsEncryptionContext {
  const { table, column, rowId, tenant } = wrapContext.context;
  const context: Record<string, string> = {
    table,
    column,
    rowId,
    keyId,
    formatVersion: String(wrapContext.formatVersion),
  };
  if (tenant !== null && tenant !== undefined) context.tenant = tenant;
  return context;
}

function assertDataKey(plaintext: Buffer, operation: string, kmsKeyId: string): void {
  if (plaintext.length !== DATA_KEY_BYTES) {
    plaintext.fill(0);
    throw new KeyServiceRejectedError(
      { service: 'kms', operation, resource: kmsKeyId },
      `KMS returned a ${plaintext.length}-byte data key; rekey data keys are ${DATA_KEY_BYTES} bytes (was this blob made by rekey?)`,
    );
  }
}
