import { AuthenticationError } from '../errors';
import type { LegacyFormat } from './reader';

/**
 * A legacy value failed to authenticate. It is an AuthenticationError (same
 * code, same handling by the engine), with a message that fits the format:
 * a Fernet HMAC that no configured key verifies usually means a key is
 * missing from ENCRYPTION_KEY / ENCRYPTION_KEY_FALLBACK, not an attack, and
 * the operator needs to read that. Names variables and key ids, never keys.
 */
export class LegacyAuthenticationError extends AuthenticationError {
  constructor(
    readonly format: Exclude<LegacyFormat, 'plaintext'>,
    part: 'data-key' | 'ciphertext',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(part, options);
    this.message = message;
  }
}
