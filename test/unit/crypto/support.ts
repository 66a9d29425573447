import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import type { GeneratedDataKey, Keyring, WrapContext } from '../../../functions/core/crypto/keyring';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { StaticKeyPolicy, type KeyState } from '../../../functions/core/crypto/key-policy';

/** Test KEKs, fresh per test run. */
export const keks = { 'kek-v1': randomBytes(32), 'kek-v2': randomBytes(32), 'kek-v3': randomBytes(32) } as const;
export type TestKeyId = keyof typeof keks;

/** Every spelling of every test KEK a leak could take. */
export function keySpellings(extra: readonly Buffer[] = []): string[] {
  return [...Object.values(keks), ...extra].flatMap((k) => [
    k.toString('base64'),
    k.toString('hex'),
    k.toString('base64url'),
  ]);
}

export function rawKeyring(): RawKeyring {
  return new RawKeyring(Object.entries(keks).map(([id, key]) => ({ id, key })));
}

/** kek-v2 active; kek-v1 retired; kek-v3 pending unless `states` says otherwise. */
export function policy(states: Partial<Record<TestKeyId, KeyState['status']>> = {}): StaticKeyPolicy {
  const all: Record<TestKeyId, KeyState['status']> = {
    'kek-v1': 'retired',
    'kek-v2': 'active',
    'kek-v3': 'pending',
    ...states,
  };
  return new StaticKeyPolicy(Object.entries(all).map(([id, status]) => ({ id, status })));
}

export function cipher(
  states: Partial<Record<TestKeyId, KeyState['status']>> = {},
  keyring: Keyring = rawKeyring(),
  maxPlaintextBytes?: number,
): EnvelopeCipher {
  return new EnvelopeCipher({ keyring, policy: policy(states), maxPlaintextBytes });
}

/**
 * A keyring that hands out the inner keyring's data keys and remembers every
 * plaintext data key buffer it returned, so a test can check they were zeroed.
 */
export class RecordingKeyring implements Keyring {
  readonly kind = 'raw' as const;
  readonly dataKeys: Buffer[] = [];
  /** Copies taken before use, for checking that no error message ever spells a data key. */
  readonly dataKeyCopies: Buffer[] = [];
  constructor(private readonly inner: Keyring = rawKeyring()) {}
  keyIds(): Promise<readonly string[]> {
    return this.inner.keyIds();
  }
  primaryKeyId(): Promise<string> {
    return this.inner.primaryKeyId();
  }
  async generateDataKey(keyId: string, wc: WrapContext): Promise<GeneratedDataKey> {
    const generated = await this.inner.generateDataKey(keyId, wc);
    this.dataKeys.push(generated.plaintext);
    this.dataKeyCopies.push(Buffer.from(generated.plaintext));
    return generated;
  }
  async unwrapDataKey(keyId: string, wrapped: Buffer, wc: WrapContext): Promise<Buffer> {
    const key = await this.inner.unwrapDataKey(keyId, wrapped, wc);
    this.dataKeys.push(key);
    this.dataKeyCopies.push(Buffer.from(key));
    return key;
  }
  rewrapDataKey(
    keyId: string,
    wrapped: Buffer,
    wc: WrapContext,
    target: string,
    targetWc: WrapContext,
  ): Promise<Buffer> {
    return this.inner.rewrapDataKey(keyId, wrapped, wc, target, targetWc);
  }
  refresh(): Promise<void> {
    return this.inner.refresh();
  }
  stats(): { kmsCalls: number; secretsManagerCalls: number } {
    return this.inner.stats();
  }
  allZero(): boolean {
    return this.dataKeys.length > 0 && this.dataKeys.every((k) => k.length === 32 && k.every((b) => b === 0));
  }
}
