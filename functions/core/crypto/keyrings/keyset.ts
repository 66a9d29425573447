import { randomBytes } from 'node:crypto';
import { CryptoError } from '../errors';
import type { KmsEncryptionContext, KmsPort } from '../../ports/kms';
import { decodeStandardBase64 } from '../standard-base64';

/**
 * The keyset: every key-encryption key (KEK) version not yet destroyed, each
 * wrapped by one KMS key, the primary marked. It lives as one JSON document
 * in a Secrets Manager secret whose AWSCURRENT version always carries the
 * whole set, so no expiring secret version can lose a key:
 *
 *   { "format": "rekey-keyset", "version": 1, "kmsKeyId": "arn:aws:kms:...",
 *     "primary": "kek-v2",
 *     "keys": [ { "id": "kek-v1", "wrapped": "<base64>", "createdAt": "2025-01-01T00:00:00.000Z" }, ... ] }
 *
 * `wrapped` is the KMS ciphertext of the 32-byte KEK under `kmsKeyId` with
 * the encryption context { purpose: "rekey-kek", keyId: <id> }, so a wrapped
 * KEK copied under another id does not unwrap.
 *
 * Everything here is pure except createKeyset / generateWrappedKek, which
 * call KMS. Helpers return new keysets and never mutate their input.
 */
export const KEYSET_FORMAT = 'rekey-keyset';
export const KEYSET_VERSION = 1;
/** Key ids: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64 characters. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** KMS ciphertexts for a 32-byte plaintext are ~200 bytes; anything past this is not one. */
const MAX_WRAPPED_BYTES = 6144;
const KEK_ID_VERSION = /^kek-v([1-9][0-9]*)$/;
const TOP_LEVEL_FIELDS = new Set(['format', 'version', 'kmsKeyId', 'primary', 'keys']);
const KEY_FIELDS = new Set(['id', 'wrapped', 'createdAt']);

export interface KeysetKey {
  readonly id: string;
  /** KMS ciphertext of the KEK. */
  readonly wrapped: Buffer;
  /** ISO 8601 timestamp. */
  readonly createdAt: string;
}

export interface Keyset {
  readonly format: typeof KEYSET_FORMAT;
  readonly version: typeof KEYSET_VERSION;
  /** The KMS key (id, ARN or alias) every KEK is wrapped under. */
  readonly kmsKeyId: string;
  readonly primary: string;
  /** In the order they were added. */
  readonly keys: readonly KeysetKey[];
}

/** Base of the keyset module's errors. */
export abstract class KeysetError extends CryptoError {}

/** The keyset document is malformed; `problems` lists every one found, each with its path. */
export class KeysetFormatError extends KeysetError {
  readonly code = 'KEYSET_FORMAT';

  constructor(
    readonly problems: readonly string[],
    source?: string,
  ) {
    super(
      `${source === undefined ? 'keyset' : `keyset in ${source}`} is invalid ` +
        `(${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.join('; ')}`,
    );
  }
}

/** A change to a keyset that would break it (duplicate id, removing the primary, ...). */
export class KeysetUpdateError extends KeysetError {
  readonly code = 'KEYSET_UPDATE';
}

/** The KMS encryption context a KEK is wrapped with. */
export function kekContext(keyId: string): KmsEncryptionContext {
  return { purpose: 'rekey-kek', keyId };
}

/**
 * Parses and validates a keyset document, listing every problem at once.
 * `source` (e.g. the secret id) is named in the error. Never echoes the
 * document's contents.
 */
export function parseKeyset(json: string, source?: string): Keyset {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    // V8's message can quote part of the text; keep only the position.
    const position = /position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
    throw new KeysetFormatError(
      [`not valid JSON${position === undefined ? '' : ` (at position ${position})`}`],
      source,
    );
  }
  const problems: string[] = [];
  const keyset = validate(doc, problems);
  if (problems.length > 0 || keyset === undefined) throw new KeysetFormatError(problems, source);
  return keyset;
}

/** The JSON document for `keyset`, after the same validation parseKeyset applies. */
export function serializeKeyset(keyset: Keyset): string {
  const doc = {
    format: keyset.format,
    version: keyset.version,
    kmsKeyId: keyset.kmsKeyId,
    primary: keyset.primary,
    keys: keyset.keys.map((k) => ({ id: k.id, wrapped: k.wrapped.toString('base64'), createdAt: k.createdAt })),
  };
  const problems: string[] = [];
  validate(doc, problems);
  if (problems.length > 0) throw new KeysetFormatError(problems);
  return JSON.stringify(doc);
}

/** `kek-v{N+1}` where N is the highest `kek-vN` in the keyset (kek-v1 when there is none). */
export function nextKeyId(keyset: Keyset): string {
  let highest = 0;
  for (const key of keyset.keys) {
    const match = KEK_ID_VERSION.exec(key.id);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `kek-v${highest + 1}`;
}

/** The keyset with `key` appended (and made primary when asked). */
export function addKeyVersion(
  keyset: Keyset,
  key: { readonly id: string; readonly wrapped: Buffer; readonly createdAt?: string },
  options: { readonly makePrimary: boolean; readonly now?: () => Date },
): Keyset {
  if (keyset.keys.some((k) => k.id === key.id)) {
    throw new KeysetUpdateError(`key ${JSON.stringify(key.id)} is already in the keyset`);
  }
  if (!KEY_ID_PATTERN.test(key.id)) {
    throw new KeysetUpdateError(`key id ${JSON.stringify(key.id)} is not valid (expected ${KEY_ID_PATTERN.source})`);
  }
  const added: KeysetKey = {
    id: key.id,
    wrapped: key.wrapped,
    createdAt: key.createdAt ?? (options.now?.() ?? new Date()).toISOString(),
  };
  return { ...keyset, primary: options.makePrimary ? key.id : keyset.primary, keys: [...keyset.keys, added] };
}

/** The keyset with `keyId` as primary (promotion, or rollback to the previous key). */
export function setPrimary(keyset: Keyset, keyId: string): Keyset {
  if (!keyset.keys.some((k) => k.id === keyId)) {
    throw new KeysetUpdateError(`cannot make ${JSON.stringify(keyId)} primary: it is not in the keyset`);
  }
  return { ...keyset, primary: keyId };
}

/**
 * The keyset without `keyId`: the KEK is gone for good once no secret version
 * holds it, so only destroy a key after verify counts zero rows under it.
 */
export function removeKey(keyset: Keyset, keyId: string): Keyset {
  if (!keyset.keys.some((k) => k.id === keyId)) {
    throw new KeysetUpdateError(`cannot remove ${JSON.stringify(keyId)}: it is not in the keyset`);
  }
  if (keyset.primary === keyId) {
    throw new KeysetUpdateError(
      `cannot remove ${JSON.stringify(keyId)}: it is the primary key; make another key primary first`,
    );
  }
  return { ...keyset, keys: keyset.keys.filter((k) => k.id !== keyId) };
}

/**
 * A new random 256-bit KEK wrapped by KMS Encrypt under `kmsKeyId` with
 * kekContext(id). The plaintext is zeroed before this returns.
 */
export async function generateWrappedKek(
  kms: KmsPort,
  kmsKeyId: string,
  id: string,
  options: { readonly now?: () => Date } = {},
): Promise<KeysetKey> {
  if (!KEY_ID_PATTERN.test(id)) {
    throw new KeysetUpdateError(`key id ${JSON.stringify(id)} is not valid (expected ${KEY_ID_PATTERN.source})`);
  }
  const kek = randomBytes(32);
  try {
    const wrapped = await kms.encrypt({ keyId: kmsKeyId, plaintext: kek, context: kekContext(id) });
    return { id, wrapped, createdAt: (options.now?.() ?? new Date()).toISOString() };
  } finally {
    kek.fill(0);
  }
}

/** A keyset holding one fresh KEK (`firstId`, default kek-v1), primary. */
export async function createKeyset(
  kms: KmsPort,
  kmsKeyId: string,
  options: { readonly firstId?: string; readonly now?: () => Date } = {},
): Promise<Keyset> {
  const first = await generateWrappedKek(kms, kmsKeyId, options.firstId ?? 'kek-v1', options);
  return { format: KEYSET_FORMAT, version: KEYSET_VERSION, kmsKeyId, primary: first.id, keys: [first] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Checks `doc` and pushes every problem; returns the typed keyset when there were none. */
function validate(doc: unknown, problems: string[]): Keyset | undefined {
  if (!isRecord(doc)) {
    problems.push(`the document must be a JSON object, not ${typeName(doc)}`);
    return undefined;
  }
  for (const field of Object.keys(doc)) {
    if (!TOP_LEVEL_FIELDS.has(field)) problems.push(`unknown field ${JSON.stringify(field)}`);
  }
  if (doc.format !== KEYSET_FORMAT) {
    problems.push(
      doc.format === undefined
        ? `format: missing (expected "${KEYSET_FORMAT}")`
        : `format: expected "${KEYSET_FORMAT}", got ${describeValue(doc.format)}`,
    );
  }
  if (doc.version === undefined) problems.push(`version: missing (expected ${KEYSET_VERSION})`);
  else if (typeof doc.version !== 'number')
    problems.push(`version: expected the number ${KEYSET_VERSION}, got ${typeName(doc.version)}`);
  else if (doc.version !== KEYSET_VERSION)
    problems.push(`version: ${doc.version} is not supported (this build reads version ${KEYSET_VERSION})`);

  if (typeof doc.kmsKeyId !== 'string' || doc.kmsKeyId.trim() === '') {
    problems.push(
      doc.kmsKeyId === undefined
        ? 'kmsKeyId: missing'
        : 'kmsKeyId: expected a non-empty string (KMS key id, ARN or alias)',
    );
  }

  const keys: KeysetKey[] = [];
  const seen = new Set<string>();
  if (!Array.isArray(doc.keys)) {
    problems.push(doc.keys === undefined ? 'keys: missing' : `keys: expected an array, got ${typeName(doc.keys)}`);
  } else if (doc.keys.length === 0) {
    problems.push('keys: empty (a keyset holds at least its primary key)');
  } else {
    doc.keys.forEach((entry: unknown, i: number) => {
      const key = validateKey(entry, `keys[${i}]`, problems);
      if (key === undefined) return;
      if (seen.has(key.id)) problems.push(`keys[${i}].id: duplicate id ${JSON.stringify(key.id)}`);
      seen.add(key.id);
      keys.push(key);
    });
  }

  if (typeof doc.primary !== 'string' || doc.primary === '') {
    problems.push(doc.primary === undefined ? 'primary: missing' : 'primary: expected a key id string');
  } else if (Array.isArray(doc.keys) && !doc.keys.some((k) => isRecord(k) && k.id === doc.primary)) {
    problems.push(`primary: ${quote(doc.primary)} is not one of the keys`);
  }

  if (problems.length > 0) return undefined;
  return {
    format: KEYSET_FORMAT,
    version: KEYSET_VERSION,
    kmsKeyId: doc.kmsKeyId as string,
    primary: doc.primary as string,
    keys,
  };
}

function validateKey(entry: unknown, path: string, problems: string[]): KeysetKey | undefined {
  if (!isRecord(entry)) {
    problems.push(`${path}: expected an object, got ${typeName(entry)}`);
    return undefined;
  }
  const before = problems.length;
  for (const field of Object.keys(entry)) {
    if (!KEY_FIELDS.has(field)) problems.push(`${path}: unknown field ${JSON.stringify(field)}`);
  }
  const { id, wrapped, createdAt } = entry;
  if (typeof id !== 'string')
    problems.push(`${path}.id: ${id === undefined ? 'missing' : `expected a string, got ${typeName(id)}`}`);
  else if (!KEY_ID_PATTERN.test(id))
    problems.push(`${path}.id: ${quote(id)} is not a valid key id (expected ${KEY_ID_PATTERN.source})`);

  let wrappedBytes: Buffer | undefined;
  if (typeof wrapped !== 'string') {
    problems.push(
      `${path}.wrapped: ${wrapped === undefined ? 'missing' : `expected a base64 string, got ${typeName(wrapped)}`}`,
    );
  } else if (wrapped === '') {
    problems.push(`${path}.wrapped: empty`);
  } else if ((wrappedBytes = decodeStandardBase64(wrapped)) === undefined) {
    problems.push(`${path}.wrapped: not base64`);
  } else {
    if (wrappedBytes.length > MAX_WRAPPED_BYTES) {
      problems.push(
        `${path}.wrapped: ${wrappedBytes.length} bytes is too long for a KMS ciphertext (limit ${MAX_WRAPPED_BYTES})`,
      );
    }
  }

  if (typeof createdAt !== 'string') {
    problems.push(
      `${path}.createdAt: ${createdAt === undefined ? 'missing' : `expected an ISO 8601 string, got ${typeName(createdAt)}`}`,
    );
  } else if (!/^\d{4}-\d{2}-\d{2}T/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    problems.push(`${path}.createdAt: ${quote(createdAt)} is not an ISO 8601 timestamp`);
  }

  if (problems.length > before) return undefined;
  return { id: id as string, wrapped: wrappedBytes as Buffer, createdAt: createdAt as string };
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? quote(value) : typeName(value);
}

/** A string for a message, cut short: a document pasted into the wrong field is not echoed whole. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}
