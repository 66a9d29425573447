import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';

/**
 * A throwaway PostgreSQL cluster: initdb into a temp dir, pg_ctl start on a
 * free loopback port, trust auth on loopback only, durability off (it is thrown
 * away). As root the binaries run as `postgres` through runuser. No jest
 * imports: scripts (bench, demo) use this too.
 */
export interface ThrowawayPostgres {
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Directory holding initdb and pg_ctl: PATH first, then /usr/lib/postgresql/<newest>/bin. */
export function findPostgresBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export async function startThrowawayPostgres(options: { readonly binDir?: string } = {}): Promise<ThrowawayPostgres> {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!binDir) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin');
  const asRoot = process.getuid?.() === 0;
  const base = mkdtempSync(join(tmpdir(), 'rekey-pg-'));
  const dataDir = join(base, 'data');
  const socketDir = base;
  if (asRoot) {
    const pgUser = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const uid = Number(pgUser.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (pgUser.status !== 0 || !Number.isFinite(uid)) throw new Error('running as root but there is no `postgres` user to run the server as');
    chownSync(base, uid, gid);
  }
  const run = (bin: string, args: string[]): void => {
    const cmd = asRoot ? 'runuser' : join(binDir, bin);
    const argv = asRoot ? ['-u', 'postgres', '--', join(binDir, bin), ...args] : args;
    try {
      execFileSync(cmd, argv, { stdio: 'pipe', cwd: base });
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer };
      throw new Error(`${bin} failed: ${e.stderr?.toString() || e.stdout?.toString() || String(err)}`);
    }
  };
  const superuser = asRoot ? 'postgres' : userInfo().username;
  run('initdb', ['-D', dataDir, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  // Loopback only, trust only on loopback.
  const hba = ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''].join('\n');
  writeFileSync(join(dataDir, 'pg_hba.conf'), hba);
  if (asRoot) spawnSync('chown', ['postgres:postgres', join(dataDir, 'pg_hba.conf')]);

  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    port = await freePort();
    const opts = [
      `-p ${port}`,
      `-k ${socketDir}`,
      "-c listen_addresses='127.0.0.1'",
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
      '-c shared_buffers=256MB',
    ].join(' ');
    try {
      run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(base, 'server.log'), '-w', '-t', '60', 'start']);
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err; // the port was taken in between: try another
    }
  }
  if (lastError) {
    rmSync(base, { recursive: true, force: true });
    throw lastError;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  };
  return { url: `postgres://${superuser}@127.0.0.1:${port}/postgres`, dataDir, stop };
}
