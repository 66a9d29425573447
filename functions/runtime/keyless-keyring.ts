import { KeyMaterialError } from '../core/crypto/errors';
import type { GeneratedDataKey, Keyring, KeyringStats } from '../core/crypto/keyring';

/**
 * The keyring of a function that is given no key access (Plan, Enqueue,
 * CheckProgress, Finalize, …: they work on ids and counts, and least privilege
 * keeps KMS and the keyset secret away from them). Any crypto through it is a
 * deployment error and says so.
 */
export class KeylessKeyring implements Keyring {
  readonly kind = 'raw' as const;

  constructor(private readonly functionName: string) {}

  async keyIds(): Promise<readonly string[]> {
    return [];
  }

  async primaryKeyId(): Promise<string> {
    throw this.refused('read the primary key');
  }

  async generateDataKey(): Promise<GeneratedDataKey> {
    throw this.refused('encrypt');
  }

  async unwrapDataKey(): Promise<Buffer> {
    throw this.refused('decrypt');
  }

  async rewrapDataKey(): Promise<Buffer> {
    throw this.refused('rewrap');
  }

  async refresh(): Promise<void> {}

  stats(): KeyringStats {
    return { kmsCalls: 0, secretsManagerCalls: 0 };
  }

  private refused(what: string): KeyMaterialError {
    return new KeyMaterialError(
      `${this.functionName} has no key access (KEYRING_KIND is not set) and cannot ${what}: give the function the keyring's environment and permissions`,
    );
  }
}
