import { decodeStandardBase64 } from '../standard-base64';
import {
  KEYSET_FORMAT,
  KEYSET_VERSION,
  KEY_ID_PATTERN,
  KeysetFormatError,
  type Keyset,
  type KeysetKey,
} from './keyset';

/**
 * The keyset's JSON document (the format is described in keyset.ts): parsed
 * and written with the same validation, which lists every problem at once,
 * each with its path, and never echoes a value whole.
 */
/** KMS ciphertexts for a 32-byte plaintext are ~200 bytes; anything past this is not one. */
const MAX_WRAPPED_BYTES = 6144;
const TOP_LEVEL_FIELDS = new Set(['format', 'version', 'kmsKeyId', 'primary', 'keys']);
const KEY_FIELDS = new Set(['id', 'wrapped', 'createdAt']);

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
