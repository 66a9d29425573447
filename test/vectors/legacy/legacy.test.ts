import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlindIndex } from '../../../functions/core/crypto/blind-index';
import { AuthenticationError, LegacyFormatError, UnknownKeyError } from '../../../functions/core/crypto/errors';
import { FernetReader } from '../../../functions/core/crypto/legacy/fernet';
import { JsonKeyIdReader } from '../../../functions/core/crypto/legacy/json-key-id';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';

/**
 * Legacy formats, checked against tokens made by an independent
 * implementation (Python `cryptography`): a committed set that must decrypt
 * forever, and a fresh set generated now (python3 + cryptography are
 * required in CI; elsewhere their absence is reported, not hidden).
 */
interface Vectors {
  fernet: { keys: { new: string; old: string }; tokens: { plaintext_hex: string; key: string; token: string }[]; foreign_token: string };
  json_key_id: { keks: Record<string, string>; values: { plaintext_hex: string; value: string }[] };
  blind_index: { key: string; cases: { table: string; column: string; value: string; index: string }[] };
}

const committed = JSON.parse(readFileSync(join(__dirname, 'legacy-vectors.json'), 'utf8')) as Vectors;

function freshFromPython(): Vectors | string {
  const run = spawnSync('python3', [join(__dirname, '../../../scripts/gen-legacy-vectors.py'), '--stdout'], { encoding: 'utf8' });
  if (run.error || run.status !== 0) return `python3 with cryptography is not available (${run.error?.message ?? run.stderr.trim().split('\n').pop()})`;
  return JSON.parse(run.stdout) as Vectors;
}

async function checkAll(v: Vectors): Promise<void> {
  const fernet = FernetReader.fromEnv({ ENCRYPTION_KEY: v.fernet.keys.new, ENCRYPTION_KEY_FALLBACK: v.fernet.keys.old });
  for (const t of v.fernet.tokens) {
    expect(fernet.recognizes(t.token)).toBe(true);
    expect(fernet.decryptSync(t.token).toString('hex')).toBe(t.plaintext_hex);
  }
  expect(() => fernet.decryptSync(v.fernet.foreign_token)).toThrow(AuthenticationError);

  const keyring = new RawKeyring(
    Object.entries(v.json_key_id.keks).map(([id, entry]) => ({ id, key: Buffer.from(entry.split(':')[1]!, 'base64') })),
  );
  const json = new JsonKeyIdReader((id) => keyring.kekFor(id));
  for (const value of v.json_key_id.values) {
    expect(json.recognizes(value.value)).toBe(true);
    expect((await json.decrypt(value.value)).toString('hex')).toBe(value.plaintext_hex);
  }
}

describe('legacy formats against Python cryptography', () => {
  it('decrypts the committed Fernet tokens with ENCRYPTION_KEY then ENCRYPTION_KEY_FALLBACK', () => {
    const fernet = FernetReader.fromEnv({ ENCRYPTION_KEY: committed.fernet.keys.new, ENCRYPTION_KEY_FALLBACK: committed.fernet.keys.old });
    for (const t of committed.fernet.tokens) expect(fernet.decryptSync(t.token).toString('hex')).toBe(t.plaintext_hex);
    expect(() => fernet.decryptSync(committed.fernet.foreign_token)).toThrow(AuthenticationError);
  });

  it('reads old-key tokens only while the fallback key is configured', () => {
    const onlyNew = FernetReader.fromEnv({ ENCRYPTION_KEY: committed.fernet.keys.new });
    const old = committed.fernet.tokens.find((t) => t.key === 'old')!;
    expect(() => onlyNew.decryptSync(old.token)).toThrow(AuthenticationError);
  });

  it('decrypts the committed JSON key_id envelopes', async () => {
    const keyring = new RawKeyring(
      Object.entries(committed.json_key_id.keks).map(([id, entry]) => ({ id, key: Buffer.from(entry.split(':')[1]!, 'base64') })),
    );
    const json = new JsonKeyIdReader((id) => keyring.kekFor(id));
    for (const value of committed.json_key_id.values) {
      expect(json.keyIdOf(value.value)).toMatch(/^kek-v[12]$/);
      expect((await json.decrypt(value.value)).toString('hex')).toBe(value.plaintext_hex);
    }
    const v1Only = new JsonKeyIdReader((id) => (id === 'kek-v1' ? keyring.kekFor(id) : undefined));
    const v2 = committed.json_key_id.values.find((x) => x.value.includes('"kek-v2"'))!;
    await expect(v1Only.decrypt(v2.value)).rejects.toBeInstanceOf(UnknownKeyError);
  });

  it('computes the committed blind indexes (HKDF per column, HMAC-SHA256)', () => {
    const index = BlindIndex.fromEnv({ BLIND_INDEX_KEY: committed.blind_index.key });
    for (const c of committed.blind_index.cases) expect(index.index(c.value, c)).toBe(c.index);
    const [a, b] = committed.blind_index.cases;
    expect(a!.index).not.toBe(b!.index); // same value, another column
  });

  it('agrees with tokens Python generates right now', async () => {
    const fresh = freshFromPython();
    if (typeof fresh === 'string') {
      if (process.env.CI) throw new Error(`CI: ${fresh}`);
      process.stderr.write(`NOT RUN (fresh Python vectors): ${fresh}\n`);
      return;
    }
    await checkAll(fresh);
    const index = BlindIndex.fromEnv({ BLIND_INDEX_KEY: fresh.blind_index.key });
    for (const c of fresh.blind_index.cases) expect(index.index(c.value, c)).toBe(c.index);
  });

  it('refuses tampered Fernet tokens with typed errors, never echoing the plaintext', () => {
    const fernet = FernetReader.fromEnv({ ENCRYPTION_KEY: committed.fernet.keys.new });
    const t = committed.fernet.tokens.find((x) => x.key === 'new' && x.plaintext_hex.length > 20)!;
    const raw = Buffer.from(t.token, 'base64url');
    const secret = Buffer.from(t.plaintext_hex, 'hex').toString('utf8');
    for (const offset of [0, 5, 12, 30, raw.length - 40, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[offset]! ^= 0x01;
      const err = (() => {
        try {
          fernet.decryptSync(bad.toString('base64url'));
          return undefined;
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeDefined();
      expect(err instanceof AuthenticationError || err instanceof LegacyFormatError).toBe(true);
      expect(err!.message).not.toContain(secret);
      expect(err!.message).not.toContain(committed.fernet.keys.new);
    }
    expect(() => fernet.decryptSync(t.token.slice(0, 40))).toThrow(LegacyFormatError);
    expect(() => fernet.decryptSync('not a token!')).toThrow(LegacyFormatError);
  });
});
