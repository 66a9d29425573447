import { randomBytes } from 'node:crypto';
import { RuntimeConfigError } from '../../../functions/runtime/engine-runtime';
import { LEGACY_KEY_FIELDS, parseLegacyKeys, readLegacyKeys } from '../../../functions/runtime/legacy-keys';
import type { GetSecretValueInput, SecretsPort } from '../../../functions/core/ports/secrets';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-legacy-keys-AbCdEf';
const fernetKey = (): string => randomBytes(32).toString('base64url');
const kek = (n: number): string => `kek-v${n}:${randomBytes(32).toString('base64')}`;

/** The error parseLegacyKeys throws for `doc`, checked to hold none of the values given. */
function errorFor(doc: unknown, values: readonly string[] = []): RuntimeConfigError {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  try {
    parseLegacyKeys(text, SECRET);
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeConfigError);
    const message = (err as Error).message;
    expect(message).toContain(SECRET);
    for (const v of values) expect(message).not.toContain(v);
    return err as RuntimeConfigError;
  }
  throw new Error('expected a RuntimeConfigError');
}

describe('legacy keys secret', () => {
  test('returns the application variables it holds, and only those', () => {
    const keys = {
      ENCRYPTION_KEY: fernetKey(),
      ENCRYPTION_KEY_FALLBACK: `${fernetKey()},${fernetKey()}`,
      SECRETS_ENCRYPTION_KEY: kek(2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: kek(1),
    };
    expect(parseLegacyKeys(JSON.stringify(keys), SECRET)).toEqual(keys);
    expect(LEGACY_KEY_FIELDS).toEqual(Object.keys(keys));
  });

  test('reads the AWSCURRENT version through the secrets port', async () => {
    const key = fernetKey();
    const calls: GetSecretValueInput[] = [];
    const port = {
      getSecretValue: async (input: GetSecretValueInput) => {
        calls.push(input);
        return { versionId: 'v1', string: JSON.stringify({ ENCRYPTION_KEY: key }), stages: ['AWSCURRENT'] };
      },
    } as unknown as SecretsPort;
    expect(await readLegacyKeys(port, SECRET)).toEqual({ ENCRYPTION_KEY: key });
    expect(calls).toEqual([{ secretId: SECRET, versionStage: 'AWSCURRENT' }]);
  });

  test('not JSON: says so without quoting the text', () => {
    const key = fernetKey();
    expect(errorFor(`ENCRYPTION_KEY=${key}`, [key]).message).toMatch(/is not JSON/);
  });

  test('not an object, or empty', () => {
    expect(errorFor([fernetKey()]).message).toMatch(/must be a JSON object/);
    expect(errorFor({}).message).toMatch(
      /holds none of ENCRYPTION_KEY, ENCRYPTION_KEY_FALLBACK, SECRETS_ENCRYPTION_KEY, SECRETS_ENCRYPTION_KEY_PREVIOUS/,
    );
  });

  test('unknown fields and non-string values are named, all at once, never their values', () => {
    const key = fernetKey();
    const err = errorFor({ ENCRYPTION_KEY: 42, FERNET_KEY: key, encryption_key: key }, [key]);
    expect(err.message).toMatch(
      /unknown fields "FERNET_KEY", "encryption_key" \(allowed: .*\); ENCRYPTION_KEY must be a non-empty string/,
    );
  });

  test('a Fernet key that does not parse names the field', () => {
    const bad = randomBytes(31).toString('base64url');
    expect(errorFor({ ENCRYPTION_KEY: bad }, [bad]).message).toMatch(/Fernet key: .*ENCRYPTION_KEY/);
    const good = fernetKey();
    expect(errorFor({ ENCRYPTION_KEY: good, ENCRYPTION_KEY_FALLBACK: `${fernetKey()},nope` }, [good]).message).toMatch(
      /ENCRYPTION_KEY_FALLBACK/,
    );
  });

  test('a fallback without the primary is refused', () => {
    const key = fernetKey();
    expect(errorFor({ ENCRYPTION_KEY_FALLBACK: key }, [key]).message).toMatch(
      /ENCRYPTION_KEY_FALLBACK is set but ENCRYPTION_KEY is not/,
    );
  });

  test('a raw KEK that does not parse names the field', () => {
    const short = `kek-v1:${randomBytes(16).toString('base64')}`;
    expect(errorFor({ SECRETS_ENCRYPTION_KEY: short }, [short.slice(7)]).message).toMatch(
      /key-encryption key: .*SECRETS_ENCRYPTION_KEY/,
    );
    const previousOnly = kek(1);
    expect(errorFor({ SECRETS_ENCRYPTION_KEY_PREVIOUS: previousOnly }, [previousOnly.slice(7)]).message).toMatch(
      /SECRETS_ENCRYPTION_KEY_PREVIOUS is set but there is no primary/,
    );
  });
});
