import { CryptoError } from '../core/crypto/errors';
import { RawKeyring, RAW_KEY_ENV } from '../core/crypto/keyrings/raw';
import { FERNET_ENV, FernetReader } from '../core/crypto/legacy/fernet';
import { AWSCURRENT, type SecretsPort } from '../core/ports/secrets';
import { RuntimeConfigError } from './engine-runtime';

/**
 * The fields a legacy keys secret may hold: the applications' own variable
 * names, so the operator stores exactly what their application is given.
 */
export const LEGACY_KEY_FIELDS = [
  FERNET_ENV.primary,
  FERNET_ENV.fallback,
  RAW_KEY_ENV.primary,
  RAW_KEY_ENV.previous,
] as const;
export type LegacyKeyField = (typeof LEGACY_KEY_FIELDS)[number];

/**
 * Reads the legacy keys secret (always its AWSCURRENT version) and returns
 * its fields as environment variables, for the runtime to merge into the key
 * environment it builds the Fernet reader (and raw keys) from. Every problem
 * is a RuntimeConfigError naming the secret and the field, never a value:
 * not JSON, not an object, an unknown field, a value that is not a string, a
 * Fernet or raw key that does not parse, a fallback without a primary.
 */
export async function readLegacyKeys(
  secrets: SecretsPort,
  secretId: string,
): Promise<Record<LegacyKeyField, string | undefined>> {
  const { string } = await secrets.getSecretValue({ secretId, versionStage: AWSCURRENT });
  return parseLegacyKeys(string, secretId);
}

export function parseLegacyKeys(secretString: string, secretId: string): Record<LegacyKeyField, string | undefined> {
  const fail = (what: string, cause?: unknown): never => {
    throw new RuntimeConfigError(
      `legacy keys secret ${secretId} (${AWSCURRENT}): ${what}`,
      cause === undefined ? undefined : { cause },
    );
  };
  let doc: unknown;
  try {
    doc = JSON.parse(secretString);
  } catch {
    // JSON.parse's message quotes the text around the error: never pass it on.
    fail(
      `is not JSON: store an object such as {"${FERNET_ENV.primary}": "<key>", "${FERNET_ENV.fallback}": "<previous key>"}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    fail(`must be a JSON object with any of ${LEGACY_KEY_FIELDS.join(', ')}`);
  const fields = doc as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(fields).filter((f) => !(LEGACY_KEY_FIELDS as readonly string[]).includes(f));
  if (unknown.length > 0)
    problems.push(
      `unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((f) => JSON.stringify(f)).join(', ')} (allowed: ${LEGACY_KEY_FIELDS.join(', ')})`,
    );
  const keys = {} as Record<LegacyKeyField, string | undefined>;
  for (const field of LEGACY_KEY_FIELDS) {
    const value = fields[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.trim() === '') problems.push(`${field} must be a non-empty string`);
    else keys[field] = value;
  }
  if (problems.length === 0 && LEGACY_KEY_FIELDS.every((f) => keys[f] === undefined))
    problems.push(`holds none of ${LEGACY_KEY_FIELDS.join(', ')}`);
  if (keys[FERNET_ENV.fallback] !== undefined && keys[FERNET_ENV.primary] === undefined) {
    problems.push(
      `${FERNET_ENV.fallback} is set but ${FERNET_ENV.primary} is not: the primary Fernet key is the one tokens are rotated to`,
    );
  }
  if (problems.length > 0) fail(problems.join('; '));
  // The readers' own checks: their messages name the variable (= the field) and the position, never the key.
  const check = (family: string, build: () => unknown): void => {
    try {
      build();
    } catch (err) {
      if (!(err instanceof CryptoError)) throw err;
      fail(`${family}: ${err.message}`, err);
    }
  };
  if (keys[FERNET_ENV.primary] !== undefined) check('Fernet key', () => FernetReader.fromEnv(keys));
  if (keys[RAW_KEY_ENV.primary] !== undefined || keys[RAW_KEY_ENV.previous] !== undefined)
    check('key-encryption key', () => RawKeyring.fromEnv(keys));
  return keys;
}
