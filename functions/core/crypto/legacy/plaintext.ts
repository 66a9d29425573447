import { isEnvelope } from '../envelope';
import { looksLikeFernet } from './fernet';
import { looksLikeJsonKeyId } from './json-key-id';
import type { LegacyReader } from './reader';

/**
 * A value stored in the clear, before `encrypt` mode protects it. It
 * recognizes what is neither an rk envelope nor shaped like a Fernet token
 * or a JSON key_id envelope (shapes only: no key is needed to tell), so a
 * legacy ciphertext is never taken for plaintext and encrypted a second time.
 */
export class PlaintextReader implements LegacyReader {
  readonly format = 'plaintext' as const;

  recognizes(value: Buffer | string): boolean {
    return !isEnvelope(value) && !looksLikeFernet(value) && !looksLikeJsonKeyId(value);
  }

  keyIdOf(): string | undefined {
    return undefined;
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  }
}
