import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatRawKey } from '../../../functions/core/crypto/keyrings/raw';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import { listReaders } from '../../../functions/core/readers/store';
import { migratedDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { runCli, type CliRun } from '../../support/cli';

/**
 * The rollout gate with real reader processes (the library in child
 * processes, heartbeats every second) on a real PostgreSQL: activation is
 * refused naming the reader that cannot decrypt the new key, --wait times out
 * on a reader that never updates, --force is audited; retiring the old key is
 * refused while live readers still encrypt with it, and allowed once they have
 * moved (cleanly stopped readers leave, killed ones go stale).
 */
const keys = { v1: randomBytes(32), v2: randomBytes(32) };
const V1 = formatRawKey('kek-v1', keys.v1);
const V2 = formatRawKey('kek-v2', keys.v2);

describe('rollout gate', () => {
  let db: TestDatabase;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    requireRealPostgres('several reader processes hold their own connections');
    db = await migratedDatabase();
    await db.sql.query('CREATE TABLE t (id bigint PRIMARY KEY, secret text)');
    const catalog = new KeyCatalog(db.sql);
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await catalog.add({ id: 'kek-v2', keyring: 'raw' });
    dir = mkdtempSync(join(tmpdir(), 'rekey-readers-'));
    writeFileSync(
      join(dir, 'rekey.config.json'),
      JSON.stringify({ tables: [{ name: 't', idColumn: 'id', columns: ['secret'] }] }),
    );
  });
  afterEach(async () => {
    for (const c of children.splice(0)) signal(c, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const signal = (child: ChildProcess, sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };

  /** Starts a reader process; resolves with its reader id once its first heartbeat is written. */
  const startReader = async (
    host: string,
    env: Record<string, string>,
  ): Promise<{ id: string; child: ChildProcess }> => {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(__dirname, 'reader-process.ts')], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, READER_INTERVAL: '1', READER_HOST: host, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true, // its own process group: tsx runs the script in a child of its own, and both must get the signal
    });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`reader ${host} exited with ${code}`)));
    });
    const { readerId, ok } = JSON.parse(line) as { readerId: string; ok: boolean };
    expect(ok).toBe(true);
    return { id: readerId, child };
  };

  const rekey = async (...args: string[]): Promise<CliRun> => {
    const env = {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      SECRETS_ENCRYPTION_KEY: V2,
      SECRETS_ENCRYPTION_KEY_PREVIOUS: V1,
      USER: 'gate-test',
    };
    const run = await runCli(['--config', join(dir, 'rekey.config.json'), ...args], { env, cwd: dir });
    expect(run.out + run.err).not.toContain(keys.v1.toString('base64'));
    expect(run.out + run.err).not.toContain(keys.v2.toString('base64'));
    return run;
  };
  const status = async (id: string): Promise<string> => (await new KeyCatalog(db.sql).require(id)).status;

  it('holds a new key back until every live reader can decrypt it, and the old one until nobody writes with it', async () => {
    // An old deployment that never updates, and two that already carry kek-v2 as a decrypt-only key.
    const old = await startReader('app-old', { SECRETS_ENCRYPTION_KEY: V1 });
    const a = await startReader('app-a', { SECRETS_ENCRYPTION_KEY: V1, SECRETS_ENCRYPTION_KEY_PREVIOUS: V2 });
    const b = await startReader('app-b', { SECRETS_ENCRYPTION_KEY: V1, SECRETS_ENCRYPTION_KEY_PREVIOUS: V2 });
    const readers = await listReaders(db.sql);
    expect(
      readers
        .filter((r) => r.live)
        .map((r) => r.readerId)
        .sort(),
    ).toEqual([old.id, a.id, b.id].sort());
    expect(readers.find((r) => r.readerId === a.id)).toMatchObject({
      kind: 'library',
      host: 'app-a',
      keyIds: ['kek-v1', 'kek-v2'],
      primaryKeyId: 'kek-v1',
    });

    const listed = await rekey('readers', '--key', 'kek-v2');
    expect(listed.code).toBe(1);
    expect(listed.out).toContain(`${old.id}  library on app-old  can decrypt [kek-v1]`);
    expect(listed.out).toMatch(new RegExp(`${old.id}.*CANNOT read kek-v2`));
    expect(listed.out).toMatch(new RegExp(`${a.id}.*reads kek-v2`));

    const refused = await rekey('keys', 'activate', 'kek-v2');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('1 live reader cannot decrypt kek-v2 yet');
    expect(refused.err).toContain(old.id);
    expect(refused.err).not.toContain(a.id);
    expect(await status('kek-v2')).toBe('pending');

    const waited = await rekey('keys', 'activate', 'kek-v2', '--wait', '2');
    expect(waited.code).toBe(1);
    expect(waited.err).toMatch(/waited 2 s and 1 live reader still cannot decrypt kek-v2/);
    expect(waited.err).toContain(`Waiting for 1 reader(s) to report kek-v2: ${old.id}`);
    expect(await status('kek-v2')).toBe('pending');

    const forced = await rekey('keys', 'activate', 'kek-v2', '--force');
    expect(forced.code).toBe(0);
    expect(forced.err).toContain(`WARNING: --force: 1 live reader(s) cannot decrypt kek-v2: ${old.id}`);
    expect(await status('kek-v2')).toBe('active');
    const audit = await db.sql.query<{ actor: string; details: { laggingReaders: { readerId: string }[] } }>(
      `SELECT actor, details FROM rekey_audit_log WHERE action = 'key.activation_forced' AND subject = 'key:kek-v2'`,
    );
    expect(audit.rows.map((r) => [r.actor, r.details.laggingReaders.map((x) => x.readerId)])).toEqual([
      ['gate-test', [old.id]],
    ]);

    // Late writers: every reader still encrypts with kek-v1 (their keyring's primary), so kek-v1 stays.
    const lateRetire = await rekey('keys', 'retire', 'kek-v1');
    expect(lateRetire.code).toBe(1);
    expect(lateRetire.err).toContain('3 live readers still encrypt new values with kek-v1');
    for (const id of [old.id, a.id, b.id]) expect(lateRetire.err).toContain(id);
    expect(await status('kek-v1')).toBe('rotating');

    // The deploy: a and b restart with kek-v2 primary (a clean stop removes their rows); the old one is killed and goes stale.
    signal(a.child, 'SIGTERM');
    signal(b.child, 'SIGTERM');
    signal(old.child, 'SIGKILL');
    await Promise.all(
      [a, b].map(
        ({ child }) =>
          new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve))),
      ),
    );
    const a2 = await startReader('app-a', { SECRETS_ENCRYPTION_KEY: V2, SECRETS_ENCRYPTION_KEY_PREVIOUS: V1 });
    await new Promise((resolve) => setTimeout(resolve, 3500)); // three missed heartbeats of 1 s
    const after = await listReaders(db.sql);
    expect(after.map((r) => [r.readerId, r.live])).toEqual([
      [a2.id, true],
      [old.id, false],
    ]);
    const stale = await rekey('readers');
    expect(stale.out).toMatch(new RegExp(`^stale ${old.id}`, 'm'));

    const retired = await rekey('keys', 'retire', 'kek-v1');
    expect([retired.code, retired.out]).toEqual([0, 'Retired kek-v1.\n']);
    expect(await status('kek-v1')).toBe('retired');
  });

  it('a CLI process leaves no reader row behind when it exits; REKEY_READER_HEARTBEAT=off registers nothing', async () => {
    const off = await startReader('app-quiet', { SECRETS_ENCRYPTION_KEY: V1, REKEY_READER_HEARTBEAT: 'off' });
    expect(off.id).toBeNull();
    const json = await rekey('--json', 'readers');
    // The `readers` command itself does not register; nothing else runs.
    expect(JSON.parse(json.out)).toEqual({ readers: [] });
    const list = await rekey('keys', 'list');
    expect(list.code).toBe(0);
    expect(await listReaders(db.sql)).toEqual([]);
  });
});
