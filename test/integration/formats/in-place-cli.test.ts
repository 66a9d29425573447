import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fernetEncrypt } from '../../../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt } from '../../../functions/core/crypto/legacy/json-key-id';
import { randomBytes } from 'node:crypto';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import {
  expectReadableByApplications,
  FERNET_TABLE,
  JSON_TABLE,
  keyStatus,
  REGISTRY,
  seedFormats,
  type FormatsFixture,
} from './fixture';
import { runCli, type CliRun } from '../../support/cli';

/**
 * `rekey reencrypt` on the two runbooks' own formats, through the CLI an
 * operator runs: values made by Python, rotated in place (Fernet tokens to
 * the new ENCRYPTION_KEY, JSON key_id envelopes to kek-v2), read back by
 * Python with the new keys only; verify counts nothing on the old keys and
 * both old keys end retired.
 */
const ROWS = 300;

describe('rekey reencrypt keeps each table in its own format (CLI)', () => {
  let db: TestDatabase;
  let fx: FormatsFixture;
  let dir: string;

  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedFormats(db.sql, ROWS);
    dir = mkdtempSync(join(tmpdir(), 'rekey-formats-'));
    writeFileSync(join(dir, 'rekey.config.json'), JSON.stringify(REGISTRY));
  });

  afterEach(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  async function rekey(...args: string[]): Promise<CliRun> {
    const run = await runCli(['--config', join(dir, 'rekey.config.json'), ...args], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, USER: 'formats-test', ...fx.env },
      cwd: dir,
    });
    fx.assertNoSecrets(run.out + run.err);
    return run;
  }

  it('dry run, rotate, verify: Python reads every row with the new keys only; old Fernet key and kek-v1 retired', async () => {
    const dry = await rekey('reencrypt', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`DRY RUN: ${FERNET_TABLE}: Would re-encrypt ${ROWS} of ${ROWS} records`);
    expect(dry.out).toContain(`DRY RUN: Would re-encrypt ${2 * ROWS} of ${2 * ROWS} records`);
    expect(await keyStatus(db.sql, fx.ids.fernetCurrent)).toBeUndefined(); // a dry run registers nothing

    const before = await rekey('inventory', '--json');
    const inventory = JSON.parse(before.out) as {
      keys: Record<string, number>;
      tables: { table: string; values: { fernetByKey: Record<string, number> } }[];
    };
    expect(inventory.keys[fx.ids.fernetOld]).toBe(ROWS); // Fernet tokens counted per key, by fingerprint
    expect(inventory.keys['kek-v1']).toBe(ROWS);
    expect(inventory.tables.find((t) => t.table === FERNET_TABLE)!.values.fernetByKey).toEqual({
      [fx.ids.fernetOld]: ROWS,
    });

    const run = await rekey('reencrypt', '--batch-size', '64');
    expect(run.err + run.out).toContain('completed');
    expect(run.code).toBe(0);
    expect(await expectReadableByApplications(db.sql, fx)).toBe(2 * ROWS);

    const verified = await rekey('verify', '--json');
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.out) as { ok: boolean; keys: Record<string, number> };
    expect(report.ok).toBe(true);
    expect(report.keys[fx.ids.fernetOld] ?? 0).toBe(0);
    expect(report.keys['kek-v1'] ?? 0).toBe(0);
    expect(report.keys[fx.ids.fernetCurrent]).toBe(ROWS);
    expect(report.keys['kek-v2']).toBe(ROWS);
    expect(await keyStatus(db.sql, fx.ids.fernetOld)).toBe('retired');
    expect(await keyStatus(db.sql, 'kek-v1')).toBe('retired');
    expect(await keyStatus(db.sql, fx.ids.fernetCurrent)).toBe('active');

    // The runbook's own check, now from the dry run: nothing left to do.
    expect((await rekey('reencrypt', '--dry-run')).out).toContain(`DRY RUN: Would re-encrypt 0 of ${2 * ROWS} records`);
  });

  it('bad values are row errors with their reason, kept as they were; the job ends completed_with_errors and kek-v1 stays usable', async () => {
    const stranger = randomBytes(32).toString('base64url');
    const good = fernetEncrypt(fx.fernet.old, 'user-bad@example.com');
    const raw = Buffer.from(good, 'base64url');
    raw[40] ^= 1; // inside the ciphertext: the HMAC no longer verifies
    const bad: Record<string, { table: string; column: string; value: string }> = {
      '9001': { table: FERNET_TABLE, column: 'email', value: fernetEncrypt(stranger, 'user-x@example.com') }, // under no configured key
      '9002': { table: FERNET_TABLE, column: 'email', value: raw.toString('base64url') }, // tampered
      '9003': {
        table: JSON_TABLE,
        column: 'api_key_encrypted',
        value: jsonKeyIdEncrypt(randomBytes(32), 'kek-v9', 'sk-fmt-9003'),
      }, // unknown key_id
      '9004': {
        table: JSON_TABLE,
        column: 'api_key_encrypted',
        value: jsonKeyIdEncrypt(fx.kek.v1, 'kek-v1', 'sk-fmt-9004').replace(/"nonce":"[^"]*"/, '"nonce":"not base64!"'), // malformed field
      },
    };
    for (const [id, b] of Object.entries(bad))
      await db.sql.query(`INSERT INTO ${b.table} (id, ${b.column}) VALUES ($1, $2)`, [id, b.value]);

    const run = await rekey('reencrypt', '--max-error-rate', '0.5');
    expect(run.code).not.toBe(0);
    expect(run.out).toContain('completed_with_errors');
    const errors = (
      await db.sql.query<{ row_id: string; code: string; message: string }>(
        'SELECT row_id, code, message FROM rekey_row_errors ORDER BY row_id',
      )
    ).rows;
    expect(errors.map((e) => [e.row_id, e.code])).toEqual([
      ['9001', 'AUTHENTICATION_FAILED'],
      ['9002', 'AUTHENTICATION_FAILED'],
      ['9003', 'UNKNOWN_KEY'],
      ['9004', 'LEGACY_FORMAT'],
    ]);
    expect(errors[0]!.message).toMatch(/ENCRYPTION_KEY/);
    expect(errors[2]!.message).toContain('kek-v9');
    expect(errors[3]!.message).toContain('nonce is not standard base64');
    fx.assertNoSecrets(JSON.stringify(errors));
    for (const [id, b] of Object.entries(bad)) {
      const { rows } = await db.sql.query<{ v: string }>(`SELECT ${b.column} AS v FROM ${b.table} WHERE id = $1`, [id]);
      expect(rows[0]!.v).toBe(b.value); // the source value kept
    }
    // Every other row rotated and readable by the applications.
    expect(await expectReadableByApplications(db.sql, fx, Object.keys(bad))).toBe(2 * ROWS);
    // kek-v1 still holds the malformed value, and unattributable Fernet tokens keep the old Fernet key.
    expect(await keyStatus(db.sql, 'kek-v1')).toBe('rotating');
    expect(await keyStatus(db.sql, fx.ids.fernetOld)).toBe('rotating');
  });

  it('--mode migrate stays the explicit change to rk1: every value becomes an envelope, the job verifies against rk1', async () => {
    const run = await rekey('reencrypt', '--mode', 'migrate');
    expect(run.out).toContain('completed');
    expect(run.code).toBe(0);
    for (const [table, column] of [
      [FERNET_TABLE, 'email'],
      [JSON_TABLE, 'api_key_encrypted'],
    ] as const) {
      const { rows } = await db.sql.query<{ v: string }>(`SELECT ${column} AS v FROM ${table}`);
      expect(rows.every((r) => r.v.startsWith('rk1:AQZrZWstdjI'))).toBe(true); // rk1, kek-v2
    }
    expect(await keyStatus(db.sql, fx.ids.fernetOld)).toBe('retired');
    expect(await keyStatus(db.sql, 'kek-v1')).toBe('retired');
    // The registry still says fernet / json-key-id: verify says so until the config is changed to rk1.
    const verified = await rekey('verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toMatch(/rk1: not the table's format/);
  });
});
