import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlindIndex } from '../../../functions/core/crypto/blind-index';
import { AuthenticationError, LegacyFormatError, UnknownKeyError } from '../../../functions/core/crypto/errors';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { classifyValue } from '../../../functions/core/crypto/legacy/classify';
import { fernetEncrypt, FernetReader } from '../../../functions/core/crypto/legacy/fernet';
import { JsonKeyIdReader } from '../../../functions/core/crypto/legacy/json-key-id';

/**
 * Legacy formats and the blind index, checked against values made by an
 * independent implementation (Python `cryptography`,
 * scripts/gen-legacy-vectors.py): a committed set that must read forever, and
 * a fresh set generated now. python3 + cryptography are required in CI
 * (CI=true); elsewhere their absence is reported, not hidden.
 */
interface Invalid {
  desc: string;
  error: 'LegacyFormatError' | 'AuthenticationError' | 'UnknownKeyError';
}
interface Vectors {
  generator: string;
  fernet: {
    keys: { new: string; old: string };
    tokens: { plaintext_hex: string; key: 'new' | 'old'; token: string }[];
    foreign_token: string;
    spec: { secret: string; time: number; iv_hex: string; plaintext: string; token: string };
    invalid: (Invalid & { token: string; ttl?: number; now?: number; python_accepts?: boolean })[];
  };
  json_key_id: {
    keks: Record<string, string>;
    values: { plaintext_hex: string; value: string }[];
    invalid: (Invalid & { value: string; part?: 'data-key' | 'ciphertext' })[];
  };
  blind_index: { key: string; cases: { table: string; column: string; value: string; index: string }[] };
}

const ERRORS = { LegacyFormatError, AuthenticationError, UnknownKeyError } as const;
const committed = JSON.parse(readFileSync(join(__dirname, 'legacy-vectors.json'), 'utf8')) as Vectors;
const ci = process.env.CI === 'true' || process.env.CI === '1';

function freshFromPython(): Vectors | string {
  const run = spawnSync('python3', [join(__dirname, '../../../scripts/gen-legacy-vectors.py'), '--stdout'], {
    encoding: 'utf8',
  });
  if (run.error) return `python3 could not be run (${run.error.message})`;
  if (run.status !== 0) return `python3 scripts/gen-legacy-vectors.py failed: ${run.stderr.trim().split('\n').pop()}`;
  return JSON.parse(run.stdout) as Vectors;
}

function thrown(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

function plaintexts(v: Vectors): string[] {
  return [...v.fernet.tokens, ...v.json_key_id.values]
    .map((t) => Buffer.from(t.plaintext_hex, 'hex').toString('utf8'))
    .filter((p) => p.length >= 8);
}

function rawKeyring(v: Vectors): RawKeyring {
  return new RawKeyring(
    Object.entries(v.json_key_id.keks).map(([id, entry]) => ({
      id,
      key: Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64'),
    })),
  );
}

function checkFernet(v: Vectors): void {
  const reader = FernetReader.fromEnv({
    ENCRYPTION_KEY: v.fernet.keys.new,
    ENCRYPTION_KEY_FALLBACK: v.fernet.keys.old,
  });
  for (const t of v.fernet.tokens) {
    expect(reader.recognizes(t.token)).toBe(true);
    expect(classifyValue(t.token)).toEqual({ kind: 'fernet' });
    expect(reader.decryptSync(t.token).toString('hex')).toBe(t.plaintext_hex);
  }
  expect(thrown(() => reader.decryptSync(v.fernet.foreign_token))).toBeInstanceOf(AuthenticationError);

  const spec = v.fernet.spec;
  expect(FernetReader.fromKeys([spec.secret]).decryptSync(spec.token).toString()).toBe(spec.plaintext);
  expect(fernetEncrypt(spec.secret, spec.plaintext, { iv: Buffer.from(spec.iv_hex, 'hex'), time: spec.time })).toBe(
    spec.token,
  );
}

function checkFernetInvalid(v: Vectors): void {
  const secrets = [v.fernet.keys.new, ...plaintexts(v)];
  for (const c of v.fernet.invalid) {
    const reader = FernetReader.fromEnv(
      { ENCRYPTION_KEY: v.fernet.keys.new },
      c.ttl === undefined ? {} : { ttlSeconds: c.ttl, now: () => c.now! * 1000 },
    );
    const err = thrown(() => reader.decryptSync(c.token));
    expect({ desc: c.desc, error: err?.constructor.name }).toEqual({ desc: c.desc, error: expect.any(String) });
    expect(err).toBeInstanceOf(ERRORS[c.error]);
    for (const s of secrets) expect(err!.message).not.toContain(s);
  }
}

async function checkJson(v: Vectors): Promise<void> {
  const keyring = rawKeyring(v);
  const reader = new JsonKeyIdReader((id) => keyring.kekFor(id));
  for (const value of v.json_key_id.values) {
    const keyId = (JSON.parse(value.value) as { key_id: string }).key_id;
    expect(reader.recognizes(value.value)).toBe(true);
    expect(reader.keyIdOf(value.value)).toBe(keyId);
    expect(classifyValue(value.value)).toEqual({ kind: 'json-key-id', keyId });
    expect((await reader.decrypt(value.value)).toString('hex')).toBe(value.plaintext_hex);
  }
  const secrets = [...Object.values(v.json_key_id.keks).map((e) => e.slice(e.indexOf(':') + 1)), ...plaintexts(v)];
  for (const c of v.json_key_id.invalid) {
    const err = await reader.decrypt(c.value).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect({ desc: c.desc, threw: err !== undefined }).toEqual({ desc: c.desc, threw: true });
    expect(err).toBeInstanceOf(ERRORS[c.error]);
    if (c.part) expect(err).toMatchObject({ part: c.part });
    for (const s of secrets) expect(err!.message).not.toContain(s);
  }
}

function checkBlindIndex(v: Vectors): void {
  const index = BlindIndex.fromEnv({ BLIND_INDEX_KEY: v.blind_index.key });
  for (const c of v.blind_index.cases) expect(index.index(c.value, c)).toBe(c.index);
  const [a, b] = v.blind_index.cases;
  expect(a!.index).not.toBe(b!.index); // same value, another column
}

describe('legacy formats against the committed Python cryptography set', () => {
  it('was made by Python cryptography, not by this code', () => {
    expect(committed.generator).toMatch(/^python cryptography \d+/);
  });

  it('decrypts every Fernet token with ENCRYPTION_KEY then ENCRYPTION_KEY_FALLBACK, and matches the spec vector', () => {
    checkFernet(committed);
  });

  it('reads old-key Fernet tokens only while the fallback key is configured', () => {
    const onlyNew = FernetReader.fromEnv({ ENCRYPTION_KEY: committed.fernet.keys.new });
    const old = committed.fernet.tokens.filter((t) => t.key === 'old');
    expect(old.length).toBeGreaterThan(0);
    for (const t of old) expect(thrown(() => onlyNew.decryptSync(t.token))).toBeInstanceOf(AuthenticationError);
  });

  it('refuses every invalid Fernet token (tampered version, timestamp, IV, ciphertext, HMAC; truncated; bad base64; TTL) with its typed error', () => {
    expect(committed.fernet.invalid.map((c) => c.desc)).toEqual(
      expect.arrayContaining([
        'version byte flipped',
        'IV flipped',
        'ciphertext flipped',
        'HMAC flipped',
        'truncated',
        'not base64url',
      ]),
    );
    checkFernetInvalid(committed);
  });

  it('decrypts the everruns-style JSON key_id values, and refuses the tampered and malformed ones with typed errors', async () => {
    await checkJson(committed);
  });

  it('reads JSON values under a key id only while that KEK is configured', async () => {
    const keyring = rawKeyring(committed);
    const v1Only = new JsonKeyIdReader((id) => (id === 'kek-v1' ? keyring.kekFor(id) : undefined));
    const v2 = committed.json_key_id.values.find((x) => x.value.includes('"kek-v2"'))!;
    await expect(v1Only.decrypt(v2.value)).rejects.toBeInstanceOf(UnknownKeyError);
  });

  it('computes the committed blind indexes (HKDF per column, HMAC-SHA256)', () => {
    checkBlindIndex(committed);
  });
});

describe('legacy formats against values Python makes now', () => {
  const fresh = freshFromPython();

  // A missing python3/cryptography fails both tests (never an early return): a run without the oracle is not green.
  const python = (): Exclude<typeof fresh, string> => {
    if (typeof fresh === 'string')
      throw new Error(
        `NOT RUN${ci ? ' (CI=true)' : ''}: the fresh Python vectors (test/vectors/legacy) cannot be made: ${fresh}`,
      );
    return fresh;
  };

  it('has python3 with cryptography', () => {
    expect(python().generator).toMatch(/^python cryptography/);
  });

  it('reads them all, refuses the invalid ones and agrees on blind indexes', async () => {
    const fresh = python();
    checkFernet(fresh);
    checkFernetInvalid(fresh);
    await checkJson(fresh);
    checkBlindIndex(fresh);
  });
});
