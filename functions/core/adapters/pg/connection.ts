import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

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

export class ConnectionStringError extends Error {}

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
    throw new ConnectionStringError('the database URL is not a valid URL: expected postgres://user:password@host:port/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConnectionStringError(`the database URL must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const q = url.searchParams;
  const mode = (q.get('sslmode') ?? env.PGSSLMODE ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(mode)) {
    throw new ConnectionStringError(`sslmode ${JSON.stringify(mode)} is not one of ${SSL_MODES.join(', ')}`);
  }
  return {
    url,
    sslmode: mode,
    sslrootcert: q.get('sslrootcert') ?? env.PGSSLROOTCERT ?? undefined,
    sslcert: q.get('sslcert') ?? env.PGSSLCERT ?? undefined,
    sslkey: q.get('sslkey') ?? env.PGSSLKEY ?? undefined,
  };
}

export function describeConnection(connectionString: string, env: NodeJS.ProcessEnv = process.env): ConnectionDescription {
  const { url, sslmode } = parse(connectionString, env);
  const host = decodeURIComponent(url.hostname || url.searchParams.get('host') || 'localhost');
  return {
    host,
    port: Number(url.port || 5432),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres',
    user: decodeURIComponent(url.username),
    tls: sslmode === 'require' || sslmode === 'verify-ca' || sslmode === 'verify-full',
    sslmode,
    loopback: isLoopback(host),
  };
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || h.startsWith('/');
}

/**
 * node-postgres options for a connection string: the URL without the libpq
 * TLS parameters node-postgres would misread, plus an `ssl` object honouring
 * sslmode/sslrootcert/sslcert/sslkey from the URL or PGSSL* variables.
 * `prefer` and `allow` connect without TLS (node-postgres cannot fall back).
 */
export function pgConnectionOptions(
  connectionString: string,
  env: NodeJS.ProcessEnv = process.env,
): { connectionString: string; ssl: false | ConnectionOptions } {
  const parsed = parse(connectionString, env);
  const url = new URL(parsed.url.toString());
  for (const p of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) url.searchParams.delete(p);
  const tls = describeConnection(connectionString, env).tls;
  if (!tls) return { connectionString: url.toString(), ssl: false };
  const read = (path: string | undefined, what: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConnectionStringError(`cannot read ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const ssl: ConnectionOptions = {
    rejectUnauthorized: parsed.sslmode !== 'require',
    ca: read(parsed.sslrootcert, 'sslrootcert'),
    cert: read(parsed.sslcert, 'sslcert'),
    key: read(parsed.sslkey, 'sslkey'),
  };
  if (parsed.sslmode === 'verify-ca') {
    // verify-ca checks the chain but not the host name.
    ssl.checkServerIdentity = () => undefined;
  }
  return { connectionString: url.toString(), ssl };
}
