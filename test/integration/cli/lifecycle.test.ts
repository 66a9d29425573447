import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { formatRawKey } from '../../../functions/core/crypto/keyrings/raw';
import { freshDatabase, type TestDatabase } from '../../support/database';
import { seedCliFixture, TABLE, type CliFixture } from './fixture';

/**
 * The operator's path through the CLI on a fresh database: schema migrations,
 * a rotation planned in the catalog (keys add/activate) before the keyring is
 * deployed, a tampered row that ends as a recorded error, and the built CLI
 * (dist, plain node) running its worker threads.
 */
const ROWS = 600;
const root = join(__dirname, '../../..');

describe('rekey CLI lifecycle', () => {
  let db: TestDatabase;
  let fx: CliFixture;

  beforeEach(async () => {
    db = await freshDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  it('migrate: --status reports pending migrations (exit 1), migrate applies them once, then --status exits 0', async () => {
    const before = await fx.rekey('migrate', '--status');
    expect(before.code).toBe(1);
    expect(before.out).toMatch(/pending: 1 /);
    const first = await fx.rekey('migrate');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/Applied migration 1 /);
    const again = await fx.rekey('--json', 'migrate');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ applied: [] });
    const after = await fx.rekey('--json', 'migrate', '--status');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.out)).toMatchObject({ pending: [] });
  });

  it('keys add/activate ahead of the deploy: the old keyring is told what to do, the new one rotates every row', async () => {
    expect((await fx.rekey('migrate')).code).toBe(0);
    expect((await fx.rekey('verify')).code).toBe(1); // registers kek-v2 (active) and kek-v1 (rotating)
    const added = await fx.rekey('keys', 'add', 'kek-v3');
    expect(added).toMatchObject({ code: 0, out: expect.stringContaining('Added kek-v3 (pending)') });
    const activated = await fx.rekey('keys', 'activate', 'kek-v3');
    expect(activated.code).toBe(0);
    expect(activated.out).toContain('kek-v2 is now rotating');

    // Applications (and this CLI) still run with kek-v2 as primary: refused, with the way out named.
    const stale = await fx.rekey('reencrypt', '-n');
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(
      /primary key kek-v2 is rotating in the catalog \(the active key is kek-v3\).*rekey keys rollback --to kek-v2/,
    );

    fx.env.SECRETS_ENCRYPTION_KEY = formatRawKey('kek-v3', fx.keys.v3);
    fx.env.SECRETS_ENCRYPTION_KEY_PREVIOUS = [
      formatRawKey('kek-v2', fx.keys.v2),
      formatRawKey('kek-v1', fx.keys.v1),
    ].join(',');
    const run = await fx.rekey('reencrypt', '--mode', 'reencrypt');
    expect(run.code).toBe(0);
    expect(run.err).toContain('Encryption service initialized. Primary key: kek-v3');
    const { rows } = await db.sql.query<{ v: string }>(`SELECT api_key_encrypted AS v FROM ${TABLE}`);
    expect(new Set(rows.map((r) => peekKeyId(r.v)))).toEqual(new Set(['kek-v3']));
    const keys = JSON.parse((await fx.rekey('--json', 'keys', 'list')).out) as { id: string; status: string }[];
    expect(Object.fromEntries(keys.map((k) => [k.id, k.status]))).toEqual({
      'kek-v1': 'retired',
      'kek-v2': 'retired',
      'kek-v3': 'active',
    });
    const audit = await db.sql.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM rekey_audit_log WHERE actor = 'cli-test'`,
    );
    expect(Number(audit.rows[0]!.n)).toBeGreaterThan(0);
  });

  it('a key activated ahead of a deploy that does not happen is undone by rollback with the old keyring', async () => {
    expect((await fx.rekey('migrate')).code).toBe(0);
    expect((await fx.rekey('verify')).code).toBe(1); // registers kek-v2 (active) and kek-v1 (rotating)
    expect((await fx.rekey('keys', 'add', 'kek-v3')).code).toBe(0);
    const activated = await fx.rekey('keys', 'activate', 'kek-v3');
    expect(activated.out).toContain('kek-v3 is not in this keyring');
    expect(activated.out).toContain('rekey keys rollback --to kek-v2');
    expect((await fx.rekey('reencrypt', '-n')).code).toBe(1); // the mismatch, naming rollback

    const back = await fx.rekey('keys', 'rollback', '--to', 'kek-v2');
    expect(back.err).not.toMatch(/error:/);
    expect(back.code).toBe(0);
    const keys = JSON.parse((await fx.rekey('--json', 'keys', 'list')).out) as { id: string; status: string }[];
    expect(Object.fromEntries(keys.map((k) => [k.id, k.status]))).toMatchObject({ 'kek-v2': 'active' });
    const dry = await fx.rekey('reencrypt', '-n');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('DRY RUN');
  });

  it('a tampered row is a recorded error: exit 1, the old key kept, status names the row without its value', async () => {
    expect((await fx.rekey('migrate')).code).toBe(0);
    // Flip one character of the ciphertext body of row 7.
    const { rows } = await db.sql.query<{ v: string }>(`SELECT api_key_encrypted AS v FROM ${TABLE} WHERE id = 7`);
    const v = rows[0]!.v;
    const at = v.length - 10;
    const tampered = v.slice(0, at) + (v[at] === 'A' ? 'B' : 'A') + v.slice(at + 1);
    await db.sql.query(`UPDATE ${TABLE} SET api_key_encrypted = $1 WHERE id = 7`, [tampered]);

    const run = await fx.rekey('--json', 'reencrypt', '--mode', 'reencrypt');
    expect(run.code).toBe(1);
    const result = JSON.parse(run.out) as {
      jobId: string;
      status: string;
      counters: { rowsDone: number; rowsFailed: number };
      keptKeys: { keyId: string }[];
    };
    expect(result.status).toBe('completed_with_errors');
    expect(result.counters).toMatchObject({ rowsDone: ROWS - 1, rowsFailed: 1 });
    expect(result.keptKeys.map((k) => k.keyId)).toContain('kek-v1');

    const status = await fx.rekey('status', result.jobId);
    expect(status.code).toBe(0);
    expect(status.out).toContain('completed_with_errors');
    expect(status.out).toMatch(new RegExp(`${TABLE} id=7 api_key_encrypted: \\S+`));
    expect(status.out).not.toContain(tampered);
    expect((await fx.rekey('verify')).code).toBe(1);
    expect((await fx.rekey('keys', 'retire', 'kek-v1')).code).toBe(1);
  });

  it('the error-rate threshold aborts the job (exit 1)', async () => {
    expect((await fx.rekey('migrate')).code).toBe(0);
    await db.sql.query(`UPDATE ${TABLE} SET api_key_encrypted = 'v1:kek-v1:not-an-envelope' WHERE id <= 60`);
    const run = await fx.rekey('--json', 'reencrypt', '--max-error-rate', '0.01', '-b', '50');
    expect(run.code).toBe(1);
    expect((JSON.parse(run.out) as { status: string }).status).toBe('aborted');
  });

  it('built with `tsc -p tsconfig.build.json`, runs under plain node with worker threads', async () => {
    // A private outDir inside the repository, so node resolves node_modules as it does for dist/.
    const out = join(root, '.rekey-tmp', `cli-dist-${randomBytes(4).toString('hex')}`);
    mkdirSync(out, { recursive: true });
    try {
      const tsc = spawnSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out],
        {
          cwd: root,
          encoding: 'utf8',
          timeout: 180_000,
        },
      );
      expect({ status: tsc.status, output: tsc.stdout + tsc.stderr }).toEqual({ status: 0, output: '' });
      const node = (...args: string[]) =>
        spawnSync(
          process.execPath,
          [join(out, 'bin', 'rekey.js'), '--config', join(fx.dir, 'rekey.config.json'), ...args],
          {
            cwd: fx.dir,
            env: fx.env,
            encoding: 'utf8',
            timeout: 90_000,
          },
        );
      expect(node('--help').stdout).toContain('Usage: rekey');
      expect(node('migrate').status).toBe(0);
      const run = node('--json', 'reencrypt', '--concurrency', '3', '-b', '50');
      fx.assertNoSecrets(run.stdout + run.stderr);
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', counters: { rowsDone: ROWS } });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
