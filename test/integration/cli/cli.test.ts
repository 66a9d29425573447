import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { seedCliFixture, type CliFixture } from './fixture';

/**
 * The `rekey` CLI against a real PostgreSQL: in-process through main() for
 * speed, and once as a child process through bin/rekey.ts. Every run checks
 * that no key material or plaintext reaches stdout or stderr.
 */
const ROWS = 1200;

describe('rekey CLI', () => {
  let db: TestDatabase;
  let fx: CliFixture;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let rekey: CliFixture['rekey'];

  beforeEach(async () => {
    db = await migratedDatabase();
    fx = await seedCliFixture(db.sql, db.url, ROWS);
    ({ dir, env, rekey } = fx);
  });
  afterEach(async () => {
    fx.dispose();
    await db.drop();
  });

  const tableDigest = (): Promise<string> => fx.tableDigest();
  const assertNoSecrets = (text: string): void => fx.assertNoSecrets(text);

  const catalog = async (): Promise<string[]> =>
    (await db.sql.query<{ id: string; status: string }>('SELECT id, status FROM rekey_keys ORDER BY id')).rows.map(
      (k) => `${k.id}:${k.status}`,
    );

  it('dry run prints the runbook line and leaves the table and the key catalog as they were', async () => {
    const before = await tableDigest();
    const keysBefore = await catalog();
    const { code, out, err } = await rekey('reencrypt', '--dry-run');
    expect(code).toBe(0);
    expect(out).toContain(`DRY RUN: Would re-encrypt ${ROWS} of ${ROWS} records`);
    expect(err).toContain('Encryption service initialized. Primary key: kek-v2');
    expect(err).toContain('Available keys: ["kek-v2","kek-v1"]');
    // Activating kek-v2 would switch every application to it: a dry run only says it would.
    expect(err).toMatch(/Key catalog: would (register|activate) kek-v2.*\(not applied: dry run\)/);
    expect(await tableDigest()).toBe(before);
    expect(await catalog()).toEqual(keysBefore);
    // The real run then makes the change it announced.
    const run = await rekey('reencrypt');
    expect(run.err).toMatch(/Key catalog: (registered|activated) kek-v2/);
    expect(await catalog()).toContain('kek-v2:active');
  });

  it('two processes started together with a new primary key both run: the second finds the key registered', async () => {
    requireRealPostgres('two CLI sessions at once on their own connections');
    const [a, b] = await Promise.all([rekey('keys', 'list'), rekey('keys', 'list')]);
    expect([a.code, b.code, a.err + b.err]).toEqual([0, 0, expect.not.stringContaining('already')]);
    expect((await catalog()).filter((k) => k.startsWith('kek-v2:'))).toEqual(['kek-v2:active']);
  });

  it('re-encrypts everything, verifies, retires the old key; verify exits 0 only then', async () => {
    expect((await rekey('verify')).code).toBe(1);
    const run = await rekey('reencrypt', '-b', '250');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/completed/);
    expect(run.out).toMatch(/rows\/s/);
    expect(run.out).toContain('retired: kek-v1');
    expect(run.err).toMatch(/Progress: 1200\/1200 records processed \(\d+ rows\/s, 0 failed\)/);
    const { rows } = await db.sql.query<{ v: string }>('SELECT api_key_encrypted AS v FROM llm_providers');
    expect(new Set(rows.map((r) => peekKeyId(r.v)))).toEqual(new Set(['kek-v2']));
    const verify = await rekey('verify', '--decrypt');
    expect(verify.code).toBe(0);
    expect(verify.out).toContain('OK: every row is on the primary key kek-v2 and decrypts');
    const keys = JSON.parse((await rekey('--json', 'keys', 'list')).out) as { id: string; status: string }[];
    expect(keys.map((k) => `${k.id}:${k.status}`).sort()).toEqual(['kek-v1:retired', 'kek-v2:active']);
  });

  it('runs with worker threads and emits parseable JSON', async () => {
    const { code, out, err } = await rekey('--json', 'reencrypt', '--concurrency', '2', '-b', '100');
    expect({ code, err }).toEqual({ code: 0, err: '' }); // a thread that fails to start reports on stderr
    const result = JSON.parse(out) as {
      status: string;
      counters: { rowsDone: number; batchesDone: number; batchesTotal: number };
    };
    expect(result.status).toBe('completed');
    expect(result.counters.rowsDone).toBe(ROWS);
    expect(result.counters.batchesDone).toBe(result.counters.batchesTotal);
    const status = JSON.parse((await rekey('--json', 'status')).out) as { status: string }[];
    expect(status[0]!.status).toBe('completed');
  });

  it('refuses bad flags and values with exit code 2, naming them', async () => {
    const cases: [string[], RegExp][] = [
      [['reencrypt', '--bogus'], /unknown option '--bogus'/],
      [['reencrypt', '-b', '0'], /batch-size.*whole number/],
      [['reencrypt', '--max-error-rate', '1.5'], /max-error-rate.*fraction from 0 to 1/],
      [['reencrypt', '--mode', 'shred'], /mode.*rewrap, reencrypt, encrypt, migrate/],
      [['reencrypt', '-t', 'no_such_table'], /--table no_such_table: not in the registry/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await rekey(...args);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(err).toMatch(message);
    }
  });

  it('explains a missing key variable and a bad key without printing it', async () => {
    delete env.SECRETS_ENCRYPTION_KEY;
    delete env.SECRETS_ENCRYPTION_KEY_PREVIOUS;
    const missing = await rekey('verify');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/SECRETS_ENCRYPTION_KEY/);
    env.SECRETS_ENCRYPTION_KEY = 'kek-v2:bm90LTMyLWJ5dGVz';
    const bad = await rekey('verify');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/SECRETS_ENCRYPTION_KEY.*decodes to 12 bytes.*32/);
    expect(bad.err).not.toContain('bm90LTMyLWJ5dGVz');
  });

  it('says what to fix when the database cannot be reached', async () => {
    env.DATABASE_URL = 'postgres://nobody@127.0.0.1:1/nothing';
    const refused = await rekey('verify');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/cannot reach the database.*check host and port/);
  });

  it('refuses to retire or destroy a key that still has values under it', async () => {
    await rekey('verify'); // registers the keyring in the catalog
    const retire = await rekey('keys', 'retire', 'kek-v1');
    expect(retire.code).toBe(1);
    expect(retire.err).toContain(`${ROWS} values are still under it`);
    const destroy = await rekey('keys', 'destroy', 'kek-v1', '--yes');
    expect(destroy.code).toBe(1);
  });

  it("--tenant runs a tenant job against the tenant's own key, and says what is missing", async () => {
    expect((await rekey('verify')).code).toBe(1); // registers kek-v2 (active)
    const none = await rekey('reencrypt', '--tenant', 'acme', '-n');
    expect(none.code).toBe(2);
    expect(none.err).toContain(
      '--tenant acme: the tenant has no active key of its own (rekey keys add <id> --tenant acme',
    );
    expect((await rekey('keys', 'add', 'kek-acme-v1', '--tenant', 'acme')).code).toBe(0);
    expect((await rekey('keys', 'activate', 'kek-acme-v1')).code).toBe(0);
    // The job reaches createJob as a tenant job: this registry has no tenant column to tell acme's rows by.
    const job = await rekey('reencrypt', '--tenant', 'acme', '-n');
    expect(job.code).toBe(1);
    expect(job.err).toContain('no registered table has a tenantColumn, so no row belongs to tenant "acme"');
  });

  it('runs as a real process through bin/rekey.ts, worker threads included (tsx)', () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '../../../bin/rekey.ts'), ...args], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 90_000,
      });
    const dry = cli('reencrypt', '-n');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(`DRY RUN: Would re-encrypt ${ROWS} of ${ROWS} records`);
    assertNoSecrets(dry.stdout + dry.stderr);
    const usage = cli('verify', '--nope');
    expect(usage.status).toBe(2);
    // Two worker threads beside the main one: under tsx the threads must load TypeScript too.
    const threaded = cli('--json', 'reencrypt', '--concurrency', '3', '-b', '100');
    assertNoSecrets(threaded.stdout + threaded.stderr);
    expect({ status: threaded.status, stderr: threaded.stderr }).toEqual({ status: 0, stderr: '' });
    const result = JSON.parse(threaded.stdout) as { status: string; counters: { rowsDone: number } };
    expect(result).toMatchObject({ status: 'completed', counters: { rowsDone: ROWS } });
  });
});
