/**
 * The demo's three tables — the situations an operator meets — and their
 * registry. Secrets are random and never printed; keys are made in memory.
 */
import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { fernetEncrypt } from '../../functions/core/crypto/legacy/fernet';
import { RawKeyring } from '../../functions/core/crypto/keyrings/raw';
import type { SqlPool } from '../../functions/core/ports/sql';
import type { Mode } from '../../functions/core/reencrypt/values/modes';

/** rk1 envelopes under kek-v1: the existing table, rotated to kek-v2. */
export const RK1_TABLE = 'demo_llm_providers';
/** A plaintext column (`email`) encrypted into `email_encrypted`, the source cleared. */
export const PLAINTEXT_TABLE = 'demo_users';
/** Fernet tokens of an older system under the ENCRYPTION_KEY_FALLBACK key, rotated in place to ENCRYPTION_KEY. */
export const FERNET_TABLE = 'demo_legacy_tokens';
export const DEMO_TABLES = [RK1_TABLE, PLAINTEXT_TABLE, FERNET_TABLE] as const;

export const REGISTRY = {
  tables: [
    { name: RK1_TABLE, idColumn: 'id', columns: ['api_key_encrypted'] },
    {
      name: PLAINTEXT_TABLE,
      idColumn: 'id',
      columns: ['email_encrypted'],
      encrypt: { email: { target: 'email_encrypted', clearSource: true } },
    },
    { name: FERNET_TABLE, idColumn: 'id', columns: ['token'], format: 'fernet' },
  ],
};

/** One job of the demo: what it moves and the rows it seeds. */
export interface DemoJob {
  readonly label: string;
  readonly table: string;
  readonly mode: Mode;
  readonly rows: number;
}

/** The jobs in the order they run: the encrypt job first, so nothing new lands on kek-v1 after its rotation. */
export function demoJobs(rows: number): DemoJob[] {
  // Encrypt and in-place Fernet rotation decrypt or encrypt every value (no rewrap shortcut): a fifth of the rows keeps the demo short.
  const legacyRows = Math.max(1, Math.round(rows / 5));
  return [
    { label: 'plaintext → rk1', table: PLAINTEXT_TABLE, mode: 'encrypt', rows: legacyRows },
    { label: 'rk1 kek-v1 → kek-v2', table: RK1_TABLE, mode: 'rewrap', rows },
    { label: 'Fernet old → new key', table: FERNET_TABLE, mode: 'rewrap', rows: legacyRows },
  ];
}

export interface DemoKeys {
  readonly kekV1: Buffer;
  readonly kekV2: Buffer;
  /** Fernet keys, 32 bytes base64url as applications hold them. */
  readonly fernetOld: string;
  readonly fernetNew: string;
}

export function makeKeys(): DemoKeys {
  return {
    kekV1: randomBytes(32),
    kekV2: randomBytes(32),
    fernetOld: randomBytes(32).toString('base64url'),
    fernetNew: randomBytes(32).toString('base64url'),
  };
}

const CHUNK = 10_000;

export async function seedTables(sql: SqlPool, keys: DemoKeys, jobs: readonly DemoJob[]): Promise<void> {
  const rowsOf = (table: string): number => jobs.find((j) => j.table === table)?.rows ?? 0;
  for (const table of DEMO_TABLES) await sql.query(`DROP TABLE IF EXISTS ${table}`);
  await sql.query(`CREATE TABLE ${RK1_TABLE} (id bigint PRIMARY KEY, name text, api_key_encrypted text)`);
  await sql.query(`CREATE TABLE ${PLAINTEXT_TABLE} (id bigint PRIMARY KEY, email text, email_encrypted text)`);
  await sql.query(`CREATE TABLE ${FERNET_TABLE} (id bigint PRIMARY KEY, token text)`);

  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: keys.kekV1 }]) });
  // ~150 bytes, like the provider API keys and tokens the runbooks rotate.
  const apiKey = (id: string): Promise<string> =>
    cipher.encrypt(`sk-${randomBytes(110).toString('base64url')}`, {
      table: RK1_TABLE,
      column: 'api_key_encrypted',
      rowId: id,
    });
  await insertChunks(
    sql,
    rowsOf(RK1_TABLE),
    apiKey,
    `INSERT INTO ${RK1_TABLE} SELECT id, 'provider-' || id, v FROM unnest($1::bigint[], $2::text[]) AS t(id, v)`,
  );
  await insertChunks(
    sql,
    rowsOf(PLAINTEXT_TABLE),
    async () => `user-${randomBytes(6).toString('hex')}@example.test`,
    `INSERT INTO ${PLAINTEXT_TABLE} (id, email) SELECT id, v FROM unnest($1::bigint[], $2::text[]) AS t(id, v)`,
  );
  // Tokens stamped a year ago, as the older system wrote them; rotation keeps the timestamp (MultiFernet.rotate).
  const yearAgo = Math.floor(Date.now() / 1000) - 365 * 24 * 3600;
  await insertChunks(
    sql,
    rowsOf(FERNET_TABLE),
    async () => fernetEncrypt(keys.fernetOld, `tok_${randomBytes(48).toString('base64url')}`, { time: yearAgo }),
    `INSERT INTO ${FERNET_TABLE} (id, token) SELECT id, v FROM unnest($1::bigint[], $2::text[]) AS t(id, v)`,
  );
}

async function insertChunks(
  sql: SqlPool,
  rows: number,
  value: (id: string) => Promise<string>,
  insert: string,
): Promise<void> {
  for (let from = 1; from <= rows; from += CHUNK) {
    const ids: string[] = [];
    const values: string[] = [];
    for (let id = from; id < Math.min(from + CHUNK, rows + 1); id++) {
      ids.push(String(id));
      values.push(await value(String(id)));
    }
    await sql.query(insert, [ids, values]);
  }
}
