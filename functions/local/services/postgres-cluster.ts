import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { onProcessExit } from './exit-hooks';
import { freePort } from './free-port';

const DIR_PREFIX = 'rekey-pg-';
/** Written into each cluster's temp dir: the pid of the process that owns the cluster. */
const OWNER_FILE = 'owner.pid';

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

/**
 * Directory holding initdb and pg_ctl: REKEY_TEST_PG_BINDIR when set (only
 * that one: the harness's own tests point it at an empty dir), else PATH,
 * then /usr/lib/postgresql/<newest>/bin.
 */
export function findPostgresBinDir(): string | undefined {
  const forced = process.env.REKEY_TEST_PG_BINDIR;
  if (forced) return existsSync(join(forced, 'initdb')) && existsSync(join(forced, 'pg_ctl')) ? forced : undefined;
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

export interface ThrowawayPostgresOptions {
  readonly binDir?: string;
  /** Extra `-c name=value` server settings (e.g. ssl=on with ssl_cert_file/ssl_key_file for TLS tests). */
  readonly settings?: Readonly<Record<string, string>>;
}

export async function startThrowawayPostgres(options: ThrowawayPostgresOptions = {}): Promise<ThrowawayPostgres> {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!binDir)
    throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin');
  reapAbandonedClusters(binDir);
  const asRoot = process.getuid?.() === 0;
  const base = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(base, OWNER_FILE), String(process.pid));
  const dataDir = join(base, 'data');
  const socketDir = base;
  if (asRoot) {
    const pgUser = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const uid = Number(pgUser.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (pgUser.status !== 0 || !Number.isFinite(uid))
      throw new Error('running as root but there is no `postgres` user to run the server as');
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
  try {
    run('initdb', ['-D', dataDir, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // Loopback only, trust only on loopback.
    const hba = ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''].join('\n');
    writeFileSync(join(dataDir, 'pg_hba.conf'), hba);
    if (asRoot) spawnSync('chown', ['postgres:postgres', join(dataDir, 'pg_hba.conf')]);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }

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
      ...Object.entries(options.settings ?? {}).map(([name, value]) => `-c ${name}='${value.replace(/'/g, "''")}'`),
    ].join(' ');
    try {
      run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(base, 'server.log'), '-w', '-t', '60', 'start']);
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err; // the port was taken in between: try another
      // A start that timed out may still have left a server running on the data dir: stop it before anything else.
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        try {
          run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        } catch {
          // nothing was running after all
        }
      }
    }
  }
  if (lastError) {
    const log = existsSync(join(base, 'server.log'))
      ? readFileSync(join(base, 'server.log'), 'utf8').trim().split('\n').slice(-5).join('\n')
      : '';
    rmSync(base, { recursive: true, force: true });
    throw log
      ? new Error(`${(lastError as Error).message}\nlast lines of the server log:\n${log}`, { cause: lastError })
      : lastError;
  }
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    unregister();
    try {
      run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  };
  // If this process dies without calling stop(), stop the server on the way out.
  const unregister = onProcessExit(stopSync);
  const stop = async (): Promise<void> => stopSync();
  return { url: `postgres://${superuser}@127.0.0.1:${port}/postgres`, dataDir, stop };
}

/**
 * Stops and removes clusters whose owning process is gone (it was killed
 * before its teardown or exit hook could run). Only directories this module
 * created (they hold owner.pid) are touched.
 */
export function reapAbandonedClusters(binDir: string | undefined = findPostgresBinDir()): string[] {
  const reaped: string[] = [];
  if (!binDir) return reaped;
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const base = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(base, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours, or still being created
    }
    if (!Number.isInteger(owner) || owner <= 0 || processAlive(owner)) continue;
    const dataDir = join(base, 'data');
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      const pgCtl = join(binDir, 'pg_ctl');
      const [cmd, argv] =
        process.getuid?.() === 0
          ? ['runuser', ['-u', 'postgres', '--', pgCtl, '-D', dataDir, '-m', 'immediate', '-w', 'stop']]
          : [pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']];
      spawnSync(cmd as string, argv as string[], { stdio: 'ignore', cwd: tmpdir() });
    }
    rmSync(base, { recursive: true, force: true });
    reaped.push(base);
  }
  return reaped;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
