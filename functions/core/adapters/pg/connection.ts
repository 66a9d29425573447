import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { DatabaseError } from '../../ports/sql-errors';

/** What a connection string points at, without its password: for start-up lines and warnings. */
export interface ConnectionDescription {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** TLS will be used (sslmode require, verify-ca or verify-full). */
  readonly tls: boolean;
  readonly sslmode: SslMode;
  /** The host is a loopback address or a unix socket. */
  readonly loopback: boolean;
}

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** The database URL or its TLS settings are wrong: nothing to retry until they are fixed. Never quotes the password. */
export class DatabaseUrlError extends DatabaseError {
  readonly code = 'DB_URL';
}

interface Parsed {
  readonly url: URL;
  readonly sslmode: SslMode;
  readonly sslrootcert?: string;
  readonly sslcert?: string;
  readonly sslkey?: string;
}

function parse(connectionString: string, env: NodeJS.ProcessEnv): Parsed {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // No cause: URL's TypeError carries the input, password included.
    throw new DatabaseUrlError(
      'the database URL is not a valid URL: expected postgres://user:password@host:port/database',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(`the database URL must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const q = url.searchParams;
  const mode = (q.get('sslmode') ?? env.PGSSLMODE ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(mode)) {
    throw new DatabaseUrlError(`sslmode ${JSON.stringify(mode)} is not one of ${SSL_MODES.join(', ')}`);
  }
  return {
    url,
    sslmode: mode,
    sslrootcert: q.get('sslrootcert') ?? env.PGSSLROOTCERT ?? undefined,
    sslcert: q.get('sslcert') ?? env.PGSSLCERT ?? undefined,
    sslkey: q.get('sslkey') ?? env.PGSSLKEY ?? undefined,
  };
}

export function describeConnection(
  connectionString: string,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionDescription {
  const { url, sslmode } = parse(connectionString, env);
  // What the URL leaves out node-postgres takes from PGHOST/PGPORT/PGDATABASE/PGUSER,
  // as libpq does: describe the server it will really reach, so a remote PGHOST
  // behind `postgres:///db` still gets the unencrypted-connection warning.
  const host = decodeURIComponent(url.hostname || url.searchParams.get('host') || env.PGHOST || 'localhost');
  const user = decodeURIComponent(url.username) || env.PGUSER || '';
  return {
    host,
    port: Number(url.port || env.PGPORT || 5432),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || env.PGDATABASE || user || 'postgres',
    user,
    tls: usesTls(sslmode),
    sslmode,
    loopback: isLoopback(host),
  };
}

/** Loopback IP (127/8, ::1), `localhost`, or a unix-socket directory. A name like 127.example.com is not. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h.startsWith('/') || h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h))
    return (
      h === '::1' ||
      h === '0:0:0:0:0:0:0:1' ||
      (/^::ffff:/.test(h) && isIPv4(h.slice(7)) && h.startsWith('::ffff:127.'))
    );
  return false;
}

/**
 * node-postgres options for a connection string: the URL without the libpq
 * TLS parameters node-postgres would read differently, plus an `ssl` object
 * following libpq's sslmode semantics with sslrootcert/sslcert/sslkey from the
 * URL or the PGSSL* variables (the URL wins):
 * - disable, allow, prefer: no TLS (node-postgres cannot try TLS and fall back,
 *   so `prefer`, libpq's default, connects in the clear — describeConnection
 *   reports tls: false so callers can warn);
 * - require: TLS without verifying the server, unless an sslrootcert is given,
 *   in which case the chain is verified (as libpq does);
 * - verify-ca: the chain is verified, the host name is not;
 * - verify-full: chain and host name verified.
 */
export function pgConnectionOptions(
  connectionString: string,
  env: NodeJS.ProcessEnv = process.env,
): { connectionString: string; ssl: false | ConnectionOptions } {
  const parsed = parse(connectionString, env);
  const url = new URL(parsed.url.toString());
  for (const p of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) url.searchParams.delete(p);
  if (!usesTls(parsed.sslmode)) return { connectionString: url.toString(), ssl: false };
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new DatabaseUrlError(`cannot read ${what} ${path}: ${(err as Error).message}`, undefined, { cause: err });
    }
  };
  if (Boolean(parsed.sslcert) !== Boolean(parsed.sslkey)) {
    throw new DatabaseUrlError(
      'a TLS client certificate needs both sslcert and sslkey (URL parameters or PGSSLCERT / PGSSLKEY)',
    );
  }
  const ca = read(parsed.sslrootcert, 'sslrootcert');
  const ssl: ConnectionOptions = {
    rejectUnauthorized: parsed.sslmode !== 'require' || ca !== undefined,
    ca,
    cert: read(parsed.sslcert, 'sslcert'),
    key: read(parsed.sslkey, 'sslkey'),
  };
  if (parsed.sslmode === 'verify-ca' || parsed.sslmode === 'require') {
    // These check the chain (when they check at all) but not the host name.
    ssl.checkServerIdentity = () => undefined;
  }
  return { connectionString: url.toString(), ssl };
}

function usesTls(mode: SslMode): boolean {
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
}
