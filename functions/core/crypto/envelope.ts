import { UnsupportedVersionError } from './errors';
import { needs } from './needs';
import { firstOutsideBase64url, isBase64urlText } from './base64-alphabet';

/**
 * Envelope format v1 (docs/envelope-format.md is the specification):
 *
 *   0x01 | u8 keyIdLength | keyId (ASCII) | u16 BE wrappedLength | wrappedKey | nonce (12) | ciphertext | tag (16)
 *
 * Binary form for bytea columns; text form `rk1:` + base64url (no padding) of
 * the binary form for text/varchar columns. The key id sits in clear in the
 * header so tools can count rows per key without decrypting.
 *
 * This module only lays out and checks bytes (the authenticated data is in
 * envelope-aad.ts); EnvelopeCipher does the crypto. Every check is a tagged
 * precondition with a unit test of the same title (see needs.ts).
 */
export const ENVELOPE_V1 = 0x01;
export const TEXT_PREFIX_V1 = 'rk1:';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const MAX_KEY_ID_BYTES = 0xff;
export const MAX_WRAPPED_KEY_BYTES = 0xffff;
/** version + key-id length + 1-byte key id + wrapped length + 1-byte wrapped key + nonce + tag (empty plaintext). */
export const MIN_ENVELOPE_BYTES = 1 + 1 + 1 + 2 + 1 + NONCE_BYTES + TAG_BYTES;

/**
 * Key ids are printable ASCII from a conservative set: raw/hierarchical ids
 * such as `kek-v2`, KMS key ids, ARNs and aliases (`arn:aws:kms:…:key/…`,
 * `alias/app`). No spaces, quotes, commas or control bytes, so an id can be
 * logged, put in a metric dimension or a CSV without escaping.
 */
const KEY_ID_PATTERN = /^[A-Za-z0-9._:/+=@-]+$/;
const OTHER_TEXT_VERSION = /^rk(\d{1,3}):/;
/** Longest prefix OTHER_TEXT_VERSION can match (`rk999:`): only that much of a value goes to the regex. */
const VERSION_PREFIX_MAX = 6;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export interface EnvelopeV1 {
  readonly version: typeof ENVELOPE_V1;
  /** Id of the key-encryption key the data key is wrapped under. */
  readonly keyId: string;
  /** The data key wrapped by the keyring (raw/hierarchical: nonce | ct | tag, 60 bytes; kms: the KMS ciphertext blob). */
  readonly wrappedKey: Buffer;
  readonly nonce: Buffer;
  /** AES-256-GCM ciphertext followed by the 16-byte tag. */
  readonly sealed: Buffer;
}

/**
 * Parses the binary form (Buffer) or text form (string) of an envelope. Buffer
 * fields of the result are views into the binary input, not copies.
 * Throws EnvelopeFormatError (reason: empty, bad-prefix, not-base64,
 * truncated, bad-field) or UnsupportedVersionError.
 */
export function parseEnvelope(value: Buffer | string): EnvelopeV1 {
  const binary = typeof value === 'string' ? fromText(value) : asBuffer(value);
  /* Precondition: the value is not empty. */
  needs(binary.length > 0, 'empty', 'the value is empty: an envelope is at least 34 bytes');
  /* Precondition: the version byte is a known version. */
  needs(binary[0] === ENVELOPE_V1, () => new UnsupportedVersionError(binary[0] as number));
  /* Precondition: the value holds at least the smallest envelope (34 bytes). */
  needs(binary.length >= MIN_ENVELOPE_BYTES, 'truncated', () =>
    truncated(binary.length, MIN_ENVELOPE_BYTES, 'the smallest envelope'),
  );

  const keyIdLength = binary[1] as number;
  /* Precondition: the key id length (byte 1) is not 0. */
  needs(keyIdLength > 0, 'bad-field', 'the envelope key id length (byte 1) is 0: a key id is 1-255 characters');
  const keyIdEnd = 2 + keyIdLength;
  /* Precondition: the value holds the key id and the wrapped-key length. */
  needs(binary.length >= keyIdEnd + 2, 'truncated', () =>
    truncated(binary.length, keyIdEnd + 2, `the ${keyIdLength}-byte key id of byte 1, then the wrapped-key length`),
  );
  const keyId = binary.toString('latin1', 2, keyIdEnd);
  /* Precondition: the key id holds only [A-Za-z0-9._:/+=@-]. */
  needs(
    KEY_ID_PATTERN.test(keyId),
    'bad-field',
    () => `envelope key id (bytes 2-${keyIdEnd - 1}) holds characters outside [A-Za-z0-9._:/+=@-]`,
  );

  const wrappedLength = binary.readUInt16BE(keyIdEnd);
  /* Precondition: the wrapped-key length is not 0. */
  needs(wrappedLength > 0, 'bad-field', () => `envelope wrapped-key length is 0 (bytes ${keyIdEnd}-${keyIdEnd + 1})`);
  const wrappedStart = keyIdEnd + 2;
  const nonceStart = wrappedStart + wrappedLength;
  const sealedStart = nonceStart + NONCE_BYTES;
  /* Precondition: the value holds the wrapped key, the nonce and the tag. */
  needs(binary.length >= sealedStart + TAG_BYTES, 'truncated', () =>
    truncated(
      binary.length,
      sealedStart + TAG_BYTES,
      `the ${wrappedLength}-byte wrapped key of bytes ${keyIdEnd}-${keyIdEnd + 1}, a ${NONCE_BYTES}-byte nonce ` +
        `and a ${TAG_BYTES}-byte tag`,
    ),
  );

  return {
    version: ENVELOPE_V1,
    keyId,
    wrappedKey: binary.subarray(wrappedStart, nonceStart),
    nonce: binary.subarray(nonceStart, sealedStart),
    sealed: binary.subarray(sealedStart),
  };
}

/** The binary form of an envelope. Throws EnvelopeFormatError('bad-field') for a field out of range. */
export function serializeEnvelope(e: EnvelopeV1): Buffer {
  /* Precondition: only a version 1 envelope is serialized. */
  needs(e.version === ENVELOPE_V1, () => new UnsupportedVersionError(e.version));
  /* Precondition: the nonce is 12 bytes. */
  needs(
    e.nonce.length === NONCE_BYTES,
    'bad-field',
    () => `envelope nonce must be ${NONCE_BYTES} bytes, got ${e.nonce.length}`,
  );
  /* Precondition: the sealed bytes hold at least the 16-byte tag. */
  needs(
    e.sealed.length >= TAG_BYTES,
    'bad-field',
    () => `envelope ciphertext must hold at least the ${TAG_BYTES}-byte tag, got ${e.sealed.length} bytes`,
  );
  const { bytes, nonceOffset, sealedOffset } = layoutEnvelope(e.keyId, e.wrappedKey, e.sealed.length);
  e.nonce.copy(bytes, nonceOffset);
  e.sealed.copy(bytes, sealedOffset);
  return bytes;
}

/**
 * Allocates an envelope with header, key id and wrapped key written, leaving
 * the nonce and sealed bytes for the caller to fill in place: one allocation
 * per value on the encrypt path.
 */
export function layoutEnvelope(
  keyId: string,
  wrappedKey: Buffer,
  sealedLength: number,
): { bytes: Buffer; nonceOffset: number; sealedOffset: number } {
  assertKeyId(keyId);
  /* Precondition: the wrapped key is 1-65535 bytes. */
  needs(
    wrappedKey.length > 0 && wrappedKey.length <= MAX_WRAPPED_KEY_BYTES,
    'bad-field',
    () => `envelope wrapped key must be 1-${MAX_WRAPPED_KEY_BYTES} bytes, got ${wrappedKey.length}`,
  );
  const keyIdEnd = 2 + keyId.length;
  const nonceOffset = keyIdEnd + 2 + wrappedKey.length;
  const sealedOffset = nonceOffset + NONCE_BYTES;
  const bytes = Buffer.allocUnsafe(sealedOffset + sealedLength);
  bytes[0] = ENVELOPE_V1;
  bytes[1] = keyId.length;
  bytes.write(keyId, 2, 'latin1');
  bytes.writeUInt16BE(wrappedKey.length, keyIdEnd);
  wrappedKey.copy(bytes, keyIdEnd + 2);
  return { bytes, nonceOffset, sealedOffset };
}

/** `rk1:` + base64url (no padding) of a binary v1 envelope. */
export function toText(binary: Buffer): string {
  /* Precondition: only a non-empty binary is encoded as text. */
  needs(binary.length > 0, 'empty', 'cannot encode an empty value as an envelope');
  /* Precondition: only a version 1 binary is encoded as text. */
  needs(binary[0] === ENVELOPE_V1, () => new UnsupportedVersionError(binary[0] as number));
  return TEXT_PREFIX_V1 + binary.toString('base64url');
}

/**
 * The binary form of a text envelope. Strict: the `rk1:` prefix, then
 * canonical unpadded base64url and nothing else (Buffer.from alone would skip
 * invalid characters silently, and accept several spellings of the same bytes).
 */
export function fromText(text: string): Buffer {
  /* Precondition: a text envelope is a string. */
  needs(typeof text === 'string', 'bad-field', () => `a text envelope must be a string, got ${typeof text}`);
  /* Precondition: a text envelope is not empty. */
  needs(text.length > 0, 'empty', 'the value is empty: a text envelope starts with "rk1:"');
  if (!text.startsWith(TEXT_PREFIX_V1)) {
    const other = OTHER_TEXT_VERSION.exec(text.slice(0, VERSION_PREFIX_MAX));
    /* Precondition: a text envelope of another version is refused as that version. */
    needs(other === null, () => new UnsupportedVersionError(Number(other![1])));
    /* Precondition: a text envelope starts with "rk1:". */
    needs(false, 'bad-prefix', 'the value does not start with "rk1:": it is not a rekey text envelope');
  }
  const body = text.slice(TEXT_PREFIX_V1.length);
  /* Precondition: a text envelope has a body after "rk1:". */
  needs(body.length > 0, 'empty', 'the text envelope has nothing after "rk1:"');
  /* Precondition: the body is canonical unpadded base64url. */
  needs(isCanonicalBase64url(body), 'not-base64', () => notCanonical(body));
  const binary = Buffer.from(body, 'base64url');
  /* Precondition: the version byte is a known version. */
  needs(binary[0] === ENVELOPE_V1, () => new UnsupportedVersionError(binary[0] as number));
  return binary;
}

/**
 * Cheap shape check, no crypto and no key lookup: true when the value could be
 * a v1 envelope (text: prefix, length and alphabet; binary: header fields
 * consistent). When it returns false, parseEnvelope would throw.
 */
export function isEnvelope(value: Buffer | string): boolean {
  if (typeof value === 'string') {
    const body = value.length - TEXT_PREFIX_V1.length;
    return (
      value.startsWith(TEXT_PREFIX_V1) &&
      body >= Math.ceil((MIN_ENVELOPE_BYTES * 4) / 3) &&
      body % 4 !== 1 &&
      isBase64urlText(value, TEXT_PREFIX_V1.length)
    );
  }
  if (!((value as unknown) instanceof Uint8Array)) return false;
  try {
    parseEnvelope(value);
    return true;
  } catch {
    return false;
  }
}

/** Version bytes a damaged binary envelope is recognized by: 0x01–0x07 never start text, and no protobuf message (field 0 is invalid). */
const MAX_RECOGNIZED_VERSION = 0x07;
/** Key id characters a damaged binary header must still show (fewer if the key id is shorter): random bytes rarely pass. */
const HEADER_KEY_ID_CHARS = 4;

/**
 * True when a value that isEnvelope refuses still starts like one: text with
 * an `rk<N>:` prefix, or bytes with a small version byte, a key id length and
 * key id characters. Such a value is a damaged (truncated, tampered) or newer
 * envelope, never plaintext: classifying it as plaintext would have encrypt
 * mode wrap the damaged envelope as if it were the secret, and other modes
 * tell the operator to run encrypt mode on it.
 */
export function looksLikeDamagedEnvelope(value: Buffer | string): boolean {
  if (typeof value === 'string') return OTHER_TEXT_VERSION.test(value.slice(0, VERSION_PREFIX_MAX));
  if (!((value as unknown) instanceof Uint8Array) || value.length < 3) return false;
  const version = value[0]!;
  const keyIdLength = value[1]!;
  if (version < 1 || version > MAX_RECOGNIZED_VERSION || keyIdLength === 0) return false;
  const shown = Math.min(keyIdLength, HEADER_KEY_ID_CHARS, value.length - 2);
  return KEY_ID_PATTERN.test(Buffer.from(value.subarray(2, 2 + shown)).toString('latin1'));
}

/** The key id of an envelope, read from the header without decrypting. Throws as parseEnvelope does. */
export function peekKeyId(value: Buffer | string): string {
  return parseEnvelope(value).keyId;
}

/** Throws EnvelopeFormatError('bad-field') unless `keyId` fits the v1 header. */
export function assertKeyId(keyId: string): void {
  /* Precondition: a key id is 1-255 characters from [A-Za-z0-9._:/+=@-]. */
  needs(
    typeof keyId === 'string' && keyId.length > 0 && keyId.length <= MAX_KEY_ID_BYTES && KEY_ID_PATTERN.test(keyId),
    'bad-field',
    () =>
      `a key id must be 1-${MAX_KEY_ID_BYTES} characters from [A-Za-z0-9._:/+=@-]` +
      (typeof keyId === 'string' ? ` (got ${keyId.length} characters)` : ` (got ${typeof keyId})`),
  );
}

function isCanonicalBase64url(body: string): boolean {
  if (body.length % 4 === 1 || !isBase64urlText(body)) return false;
  // A final partial group carries unused low bits; canonical encoders write
  // them as zero. Rejecting the rest keeps one spelling per envelope.
  const unusedBits = body.length % 4 === 2 ? 4 : body.length % 4 === 3 ? 2 : 0;
  if (unusedBits === 0) return true;
  const last = BASE64URL_ALPHABET.indexOf(body[body.length - 1] as string);
  return (last & ((1 << unusedBits) - 1)) === 0;
}

/** What makes a body not canonical base64url, and where (never the text itself: it may be a secret). */
function notCanonical(body: string): string {
  const at = firstOutsideBase64url(body);
  if (at >= 0) return `the text after "rk1:" is not base64url: its character ${at + 1} is outside [A-Za-z0-9_-]`;
  if (body.length % 4 === 1)
    return `the text after "rk1:" is not base64url: ${body.length} characters are no whole bytes`;
  return 'the text after "rk1:" is not canonical base64url: its last character has non-zero unused bits';
}

function asBuffer(value: Buffer | Uint8Array): Buffer {
  if (Buffer.isBuffer(value)) return value;
  /* Precondition: an envelope is a Buffer, a Uint8Array or a string. */
  needs(
    (value as unknown) instanceof Uint8Array,
    'bad-field',
    () => `an envelope must be a Buffer, a Uint8Array or a string, got ${value === null ? 'null' : typeof value}`,
  );
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function truncated(have: number, need: number, what: string): string {
  return `the envelope is truncated: it has ${have} bytes, its header calls for at least ${need} (${what})`;
}
