import { isEnvelope } from '../envelope';
import type { LegacyReader } from './reader';

/**
 * A value stored in the clear, before `encrypt` mode protects it. It
 * recognizes anything that is not an rk envelope; classify() asks the other
 * readers first, so a Fernet token or a JSON key_id envelope is never taken
 * for plaintext.
 */
export class PlaintextReader implements LegacyReader {
  readonly format = 'plaintext' as const;

  recognizes(value: Buffer | string): boolean {
    return !isEnvelope(value);
  }

  keyIdOf(): string | undefined {
    return undefined;
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  }
}
