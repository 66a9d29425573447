import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { KeyMaterialError, LegacyFormatError, UnknownKeyError } from '../errors';
import { LegacyAuthenticationError } from './errors';
import type { LegacyReader } from './reader';
import { decodeStandardBase64 } from '../standard-base64';

/**
 * JSON envelopes carrying a `key_id`, as everruns' EncryptionService writes
 * them (the tool behind runbooks/kek-rotation-reencrypt-cli.md; its
 * `EncryptedPayload`, specs/encryption.md in github.com/everruns/everruns):
 *
 *   {"version":1,"alg":"AES-256-GCM","key_id":"kek-v1",
 *    "dek_wrapped":"<b64: nonce(12) | AES-256-GCM(KEK, DEK(32)) | tag(16)>",
 *    "nonce":"<b64: 12 bytes>","ciphertext":"<b64: AES-256-GCM(DEK, plaintext) | tag(16)>"}
 *
 * Standard base64 with padding, no additional authenticated data, a fresh
 * DEK per value; every field is required (that tool refuses a payload
 * without one). The KEKs are the `kek-vN:<base64>` keys of
 * SECRETS_ENCRYPTION_KEY / SECRETS_ENCRYPTION_KEY_PREVIOUS, so the raw
 * keyring resolves them. Layout and sources: docs/legacy-formats.md.
 */
export type KekResolver = (keyId: string) => KeyObject | Buffer | undefined;

const PAYLOAD_VERSION = 1;
const ALGORITHM = 'AES-256-GCM';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DEK_BYTES = 32;
const WRAPPED_DEK_BYTES = NONCE_BYTES + DEK_BYTES + TAG_BYTES;

interface JsonPayload {
  readonly version?: unknown;
  readonly alg?: unknown;
  readonly key_id?: unknown;
  readonly dek_wrapped?: unknown;
  readonly nonce?: unknown;
  readonly ciphertext?: unknown;
}

/** The fields whose presence makes a JSON object an envelope (their values are checked when it is decrypted). */
const ENVELOPE_FIELDS = ['dek_wrapped', 'nonce', 'ciphertext'] as const;
/** Longest key id reported; a longer `key_id` is not the tool's (`kek-vN`) and is not echoed into counts or messages. */
const MAX_KEY_ID_LENGTH = 128;
/** What a `key_id` too long to be one is reported as. */
export const OVERSIZED_KEY_ID = '(oversized key_id)';

/**
 * True when the value is a JSON envelope: an object with a string `key_id`
 * and the `dek_wrapped`, `nonce` and `ciphertext` fields. Cheap enough for
 * classifying every row. A plaintext JSON document that merely has a
 * `key_id` (an application's own settings, say) is not one: encrypt mode
 * must encrypt it, not leave it for migrate.
 */
export function looksLikeJsonKeyId(value: Buffer | string): boolean {
  return jsonKeyIdOf(value) !== undefined;
}

/** The `key_id` of a JSON envelope, without decrypting; undefined when the value is not one. */
export function jsonKeyIdOf(value: Buffer | string): string | undefined {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) return undefined;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  // Cheap refusals first: most values scanned are envelopes or plaintext.
  if (!text.trimStart().startsWith('{') || !text.includes('"key_id"')) return undefined;
  const parsed = parse(text);
  if (!parsed || typeof parsed.key_id !== 'string' || !ENVELOPE_FIELDS.every((f) => f in parsed)) return undefined;
  return parsed.key_id.length > MAX_KEY_ID_LENGTH ? OVERSIZED_KEY_ID : parsed.key_id;
}

/**
 * True for text that names the JSON envelope's fields but is not a valid
 * JSON object (cut short, say): a damaged legacy ciphertext, which migrate
 * mode reports as malformed, and encrypt mode must not wrap as plaintext.
 */
export function looksLikeDamagedJsonKeyId(value: Buffer | string): boolean {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) return false;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  if (!text.trimStart().startsWith('{') || !text.includes('"key_id"') || !text.includes('"dek_wrapped"')) return false;
  return parse(text) === undefined;
}

export class JsonKeyIdReader implements LegacyReader {
  readonly format = 'json-key-id' as const;

  constructor(private readonly resolveKek: KekResolver) {}

  recognizes(value: Buffer | string): boolean {
    return looksLikeJsonKeyId(value);
  }

  keyIdOf(value: Buffer | string): string | undefined {
    return jsonKeyIdOf(value);
  }

  /** A new value of `plaintext` under the KEK named `keyId` (in-place rotation, encrypt mode); UnknownKeyError when none resolves. */
  encrypt(keyId: string, plaintext: Buffer): string {
    const kek = this.resolveKek(keyId);
    if (!kek) throw new UnknownKeyError(keyId);
    return jsonKeyIdEncrypt(kek, keyId, plaintext);
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    const parsed = parse(typeof value === 'string' ? value : value.toString('utf8'));
    if (!parsed) throw new LegacyFormatError('the JSON key_id value is not a JSON object');
    const problems: string[] = [];
    if (typeof parsed.key_id !== 'string' || parsed.key_id.length === 0)
      problems.push('key_id is missing or not a string');
    if (parsed.version !== PAYLOAD_VERSION)
      problems.push(`version is ${describe(parsed.version)}, expected ${PAYLOAD_VERSION}`);
    if (parsed.alg !== ALGORITHM) problems.push(`alg is ${describe(parsed.alg)}, expected "${ALGORITHM}"`);
    const wrapped = base64Field(parsed.dek_wrapped, 'dek_wrapped', problems);
    const nonce = base64Field(parsed.nonce, 'nonce', problems);
    const sealed = base64Field(parsed.ciphertext, 'ciphertext', problems);
    if (wrapped && wrapped.length !== WRAPPED_DEK_BYTES)
      problems.push(`dek_wrapped is ${wrapped.length} bytes, expected ${WRAPPED_DEK_BYTES}`);
    if (nonce && nonce.length !== NONCE_BYTES) problems.push(`nonce is ${nonce.length} bytes, expected ${NONCE_BYTES}`);
    if (sealed && sealed.length < TAG_BYTES)
      problems.push(`ciphertext is ${sealed.length} bytes, shorter than the ${TAG_BYTES}-byte tag`);
    if (problems.length > 0) throw new LegacyFormatError(`the JSON key_id value is malformed: ${problems.join('; ')}`);

    const keyId = parsed.key_id as string;
    const kek = this.resolveKek(keyId);
    if (!kek) throw new UnknownKeyError(keyId);
    const dek = gcmOpen(
      kek,
      wrapped!.subarray(0, NONCE_BYTES),
      wrapped!.subarray(NONCE_BYTES),
      (cause) =>
        new LegacyAuthenticationError(
          'json-key-id',
          'data-key',
          `the JSON key_id value's wrapped data key does not verify under ${JSON.stringify(keyId)}: the KEK configured under that id is not the one that wrote it, or dek_wrapped was altered`,
          { cause },
        ),
    );
    try {
      return gcmOpen(
        dek,
        nonce!,
        sealed!,
        (cause) =>
          new LegacyAuthenticationError(
            'json-key-id',
            'ciphertext',
            "the JSON key_id value's ciphertext does not authenticate: nonce, ciphertext or tag were altered",
            {
              cause,
            },
          ),
      );
    } finally {
      dek.fill(0);
    }
  }
}

/**
 * Writes a value in the service's layout under `kek`, named `keyId`: a fresh
 * DEK and fresh nonces every time, compact JSON in the service's field order,
 * standard base64 with padding. The engine's in-place rotation writes through
 * JsonKeyIdReader.encrypt (the KEK resolved by id); tests and the bench call
 * this with a raw key.
 */
export function jsonKeyIdEncrypt(kek: KeyObject | Buffer, keyId: string, plaintext: Buffer | string): string {
  const kekBytes = Buffer.isBuffer(kek) ? kek.length : (kek.symmetricKeySize ?? 0);
  if (kekBytes !== DEK_BYTES) throw new KeyMaterialError(`a KEK is ${DEK_BYTES} bytes, got ${kekBytes}`);
  const dek = randomBytes(DEK_BYTES);
  try {
    const wrapNonce = randomBytes(NONCE_BYTES);
    const nonce = randomBytes(NONCE_BYTES);
    const payload = {
      version: PAYLOAD_VERSION,
      alg: ALGORITHM,
      key_id: keyId,
      dek_wrapped: Buffer.concat([wrapNonce, gcmSeal(kek, wrapNonce, dek)]).toString('base64'),
      nonce: nonce.toString('base64'),
      ciphertext: gcmSeal(
        dek,
        nonce,
        typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext,
      ).toString('base64'),
    };
    return JSON.stringify(payload);
  } finally {
    dek.fill(0);
  }
}

function parse(text: string): JsonPayload | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as JsonPayload)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A field's type or a short, non-secret value for messages (version and alg only). */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 32));
  return `a ${value === null ? 'null' : typeof value}`;
}

function base64Field(value: unknown, name: string, problems: string[]): Buffer | undefined {
  if (value === undefined) {
    problems.push(`${name} is missing`);
    return undefined;
  }
  // The STANDARD engine of Rust's base64 crate: `+` `/`, canonical padding.
  const bytes = typeof value === 'string' ? decodeStandardBase64(value) : undefined;
  if (bytes === undefined) problems.push(`${name} is not standard base64`);
  return bytes;
}

function gcmOpen(key: KeyObject | Buffer, nonce: Buffer, sealed: Buffer, failure: (cause: unknown) => Error): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const out = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    decipher.final();
  } catch (err) {
    out.fill(0);
    throw failure(err);
  }
  return out;
}

function gcmSeal(key: KeyObject | Buffer, nonce: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}
