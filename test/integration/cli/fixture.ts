import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import type { Sql } from '../../../functions/core/ports/sql';
import { runCli } from '../../support/cli';

/**
 * What the CLI integration tests share: a table of envelopes under kek-v1, a
 * registry file, the environment an operator would set, and a runner that
 * fails the test when any output carries key material or plaintext.
 */
export const TABLE = 'llm_providers';
export const plaintextOf = (i: number): string => `sk-live-${i}-${'x'.repeat(20)}`;

export interface CliFixture {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly keys: Readonly<Record<'v1' | 'v2' | 'v3', Buffer>>;
  /** Runs `rekey --config <dir>/rekey.config.json …` in-process. */
  rekey(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  assertNoSecrets(text: string): void;
  /** Removes the fixture's temp directory (config, files the CLI wrote). */
  dispose(): void;
  tableDigest(): Promise<string>;
}

export async function seedCliFixture(sql: Sql, url: string, rows: number): Promise<CliFixture> {
  const keys = { v1: randomBytes(32), v2: randomBytes(32), v3: randomBytes(32) };
  await sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, api_key_encrypted text)`);
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: keys.v1 }]) });
  const ids: string[] = [];
  const values: string[] = [];
  for (let i = 1; i <= rows; i++) {
    ids.push(String(i));
    values.push(await cipher.encrypt(plaintextOf(i), { table: TABLE, column: 'api_key_encrypted', rowId: String(i) }));
  }
  await sql.query(`INSERT INTO ${TABLE} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, values]);
  const dir = mkdtempSync(join(tmpdir(), 'rekey-cli-'));
  writeFileSync(
    join(dir, 'rekey.config.json'),
    JSON.stringify({ tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: url,
    SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', keys.v2),
    SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', keys.v1),
    USER: 'cli-test',
  };

  const assertNoSecrets = (text: string): void => {
    for (const key of Object.values(keys)) {
      expect(text).not.toContain(key.toString('base64'));
      expect(text).not.toContain(key.toString('hex'));
    }
    expect(text).not.toMatch(/sk-live-\d+/);
  };

  return {
    dir,
    env,
    keys,
    assertNoSecrets,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
    async rekey(...args) {
      const run = await runCli(['--config', join(dir, 'rekey.config.json'), ...args], { env, cwd: dir });
      assertNoSecrets(run.out + run.err);
      return run;
    },
    async tableDigest() {
      const { rows: all } = await sql.query<{ id: string; v: string }>(
        `SELECT id::text AS id, api_key_encrypted AS v FROM ${TABLE} ORDER BY id`,
      );
      return createHash('sha256').update(JSON.stringify(all)).digest('hex');
    },
  };
}
