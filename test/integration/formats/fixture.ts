import { randomBytes } from 'node:crypto';
import { formatRawKey } from '../../../functions/core/crypto/keyrings/raw';
import { fernetKeyId } from '../../../functions/core/crypto/legacy/fernet-keys';
import type { Sql } from '../../../functions/core/ports/sql';
import { runPythonJson } from '../../support/python';

/**
 * Two tables as the runbooks' applications keep them, every value made by
 * Python (test/support/python/legacy_oracle.py): `users` holds Fernet tokens
 * under the old ENCRYPTION_KEY (the Fernet runbook's app), `llm_providers`
 * holds the JSON key_id envelopes of the reencrypt-secrets service under
 * kek-v1. The same oracle reads them back after rekey rotated them.
 */
export const FERNET_TABLE = 'users';
export const JSON_TABLE = 'llm_providers';
export const REGISTRY = {
  tables: [
    { name: FERNET_TABLE, idColumn: 'id', columns: ['email'], format: 'fernet' },
    { name: JSON_TABLE, idColumn: 'id', columns: ['api_key_encrypted'], format: 'json-key-id' },
  ],
};
export const SECRET = /sk-fmt-\d+|user-\d+@example\.com/;
export const plaintextOf = (table: string, i: number): string =>
  table === FERNET_TABLE ? `user-${i}@example.com` : `sk-fmt-${i}-${'y'.repeat(24)}`;

export interface FormatsFixture {
  readonly fernet: { readonly old: string; readonly current: string };
  readonly kek: { readonly v1: Buffer; readonly v2: Buffer };
  /** The environment the runbooks name, primary keys new and previous keys old. */
  readonly env: Record<string, string>;
  readonly ids: { readonly fernetOld: string; readonly fernetCurrent: string };
  /** Original timestamps of the Fernet tokens, by row id. */
  readonly timestamps: ReadonlyMap<string, number>;
  /** JSON values as Python wrote them, by row id (to prove a fresh DEK and nonces). */
  readonly jsonBefore: ReadonlyMap<string, string>;
  assertNoSecrets(text: string): void;
}

export async function seedFormats(sql: Sql, rows: number): Promise<FormatsFixture> {
  // As Fernet.generate_key() writes them: base64url with its padding.
  const fernet = {
    old: `${randomBytes(32).toString('base64url')}=`,
    current: `${randomBytes(32).toString('base64url')}=`,
  };
  const kek = { v1: randomBytes(32), v2: randomBytes(32) };
  // Timestamps spread over the past year: the rotation must keep each one (MultiFernet.rotate).
  const now = Math.floor(Date.now() / 1000);
  const times = Array.from({ length: rows }, (_, i) => now - 86_400 * ((i * 37) % 365) - i);
  const made = runPythonJson<{ fernet: string[]; json: string[] }>('legacy_oracle.py', {
    op: 'make',
    fernet_key: fernet.old,
    kek_id: 'kek-v1',
    kek: kek.v1.toString('base64'),
    plaintexts: Array.from({ length: rows }, (_, i) => plaintextOf(FERNET_TABLE, i + 1)),
    times,
  });
  // The JSON table gets its own plaintexts (the oracle encrypts one list in both formats).
  const json = runPythonJson<{ json: string[] }>('legacy_oracle.py', {
    op: 'make',
    fernet_key: fernet.old,
    kek_id: 'kek-v1',
    kek: kek.v1.toString('base64'),
    plaintexts: Array.from({ length: rows }, (_, i) => plaintextOf(JSON_TABLE, i + 1)),
  }).json;
  const ids = Array.from({ length: rows }, (_, i) => String(i + 1));
  await sql.query(`CREATE TABLE ${FERNET_TABLE} (id bigint PRIMARY KEY, email text)`);
  await sql.query(`CREATE TABLE ${JSON_TABLE} (id bigint PRIMARY KEY, api_key_encrypted text)`);
  await sql.query(`INSERT INTO ${FERNET_TABLE} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, made.fernet]);
  await sql.query(`INSERT INTO ${JSON_TABLE} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, json]);
  const env = {
    SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', kek.v2),
    SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', kek.v1),
    ENCRYPTION_KEY: fernet.current,
    ENCRYPTION_KEY_FALLBACK: fernet.old,
  };
  const secrets = [
    fernet.old,
    fernet.current,
    kek.v1.toString('base64'),
    kek.v2.toString('base64'),
    kek.v1.toString('hex'),
    kek.v2.toString('hex'),
  ];
  return {
    fernet,
    kek,
    env,
    ids: { fernetOld: fernetKeyId(fernet.old), fernetCurrent: fernetKeyId(fernet.current) },
    timestamps: new Map(ids.map((id, i) => [id, times[i]!])),
    jsonBefore: new Map(ids.map((id, i) => [id, json[i]!])),
    assertNoSecrets: (text) => {
      for (const s of secrets) expect(text).not.toContain(s);
      expect(text).not.toMatch(SECRET);
    },
  };
}

/**
 * Reads both tables back with the Python oracle holding ONLY the new keys
 * (ENCRYPTION_KEY alone, kek-v2 alone): every row must decrypt to its
 * original plaintext, Fernet tokens keep their timestamps, JSON values are
 * exactly the service's layout with a fresh DEK and nonces.
 */
export async function expectReadableByApplications(
  sql: Sql,
  fx: FormatsFixture,
  skipIds: readonly string[] = [],
): Promise<number> {
  const fernetRows = (
    await sql.query<{ id: string; v: string }>(`SELECT id::text AS id, email AS v FROM ${FERNET_TABLE} ORDER BY id`)
  ).rows.filter((r) => !skipIds.includes(r.id));
  const jsonRows = (
    await sql.query<{ id: string; v: string }>(
      `SELECT id::text AS id, api_key_encrypted AS v FROM ${JSON_TABLE} ORDER BY id`,
    )
  ).rows.filter((r) => !skipIds.includes(r.id));
  const read = runPythonJson<{
    fernet: { plaintext: string; timestamp: number }[];
    json: { plaintext: string; key_id: string; dek_wrapped: string; nonce: string }[];
  }>('legacy_oracle.py', {
    op: 'read',
    fernet_keys: [fx.fernet.current],
    fernet: fernetRows.map((r) => r.v),
    keks: { 'kek-v2': fx.kek.v2.toString('base64') },
    json: jsonRows.map((r) => r.v),
  });
  fernetRows.forEach((r, i) => {
    expect(read.fernet[i]!.plaintext).toBe(plaintextOf(FERNET_TABLE, Number(r.id)));
    expect(read.fernet[i]!.timestamp).toBe(fx.timestamps.get(r.id));
  });
  jsonRows.forEach((r, i) => {
    const got = read.json[i]!;
    expect(got.plaintext).toBe(plaintextOf(JSON_TABLE, Number(r.id)));
    expect(got.key_id).toBe('kek-v2');
    const before = JSON.parse(fx.jsonBefore.get(r.id)!) as { dek_wrapped: string; nonce: string };
    expect(got.dek_wrapped).not.toBe(before.dek_wrapped);
    expect(got.nonce).not.toBe(before.nonce);
  });
  return fernetRows.length + jsonRows.length;
}

export async function keyStatus(sql: Sql, id: string): Promise<string | undefined> {
  return (await sql.query<{ status: string }>('SELECT status FROM rekey_keys WHERE id = $1', [id])).rows[0]?.status;
}
