/**
 * A reader for a format that predates the rekey envelope. The `migrate` mode
 * of the re-encryption engine, and applications that are still migrating,
 * decrypt legacy values through these and write them back as envelopes.
 */
export type LegacyFormat = 'fernet' | 'json-key-id' | 'plaintext';

export interface LegacyReader {
  readonly format: LegacyFormat;
  /** Cheap recognition from the shape of the value alone: no crypto, no key lookup. */
  recognizes(value: Buffer | string): boolean;
  /** The legacy key id the value names, when the format carries one (JSON `key_id`); for counting rows per key. */
  keyIdOf(value: Buffer | string): string | undefined;
  /** The plaintext. Throws LegacyFormatError / AuthenticationError / UnknownKeyError, never with plaintext in the message. */
  decrypt(value: Buffer | string): Promise<Buffer>;
}
