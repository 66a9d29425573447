import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatabaseUrlError,
  describeConnection,
  isLoopback,
  pgConnectionOptions,
} from '../../../functions/core/adapters/pg/connection';
import { DatabaseError } from '../../../functions/core/ports/sql-errors';

const files = mkdtempSync(join(tmpdir(), 'rekey-pgconn-'));
const pem = (name: string, body: string): string => {
  const path = join(files, name);
  writeFileSync(path, body);
  return path;
};
afterAll(() => rmSync(files, { recursive: true, force: true }));
const ca = pem('ca.pem', 'CA-BYTES');
const cert = pem('client.pem', 'CERT-BYTES');
const key = pem('client.key', 'KEY-BYTES');

describe('describeConnection', () => {
  it('names host, port, database and user, never the password', () => {
    const d = describeConnection('postgresql://app:pa%3Ass@db.example.com:6543/prod', {});
    expect(d).toEqual({
      host: 'db.example.com',
      port: 6543,
      database: 'prod',
      user: 'app',
      tls: false,
      sslmode: 'prefer',
      loopback: false,
    });
    expect(JSON.stringify(d)).not.toMatch(/pa(%3A|:)ss/);
  });

  it('defaults the port to 5432 and the database to the user name, as libpq does', () => {
    expect(describeConnection('postgres://rekey@10.1.2.3', {})).toMatchObject({
      port: 5432,
      database: 'rekey',
      user: 'rekey',
    });
  });

  it('fills what the URL leaves out from PGHOST/PGPORT/PGDATABASE/PGUSER, as node-postgres connects', () => {
    const env = { PGHOST: 'db.example.com', PGPORT: '6000', PGDATABASE: 'prod', PGUSER: 'app' };
    expect(describeConnection('postgres:///', env)).toMatchObject({
      host: 'db.example.com',
      port: 6000,
      database: 'prod',
      user: 'app',
      loopback: false,
      tls: false,
    });
    // The URL wins over the environment.
    expect(describeConnection('postgres://me@127.0.0.1:5433/mine', env)).toMatchObject({
      host: '127.0.0.1',
      port: 5433,
      database: 'mine',
      user: 'me',
      loopback: true,
    });
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['[::1]', true],
    ['/var/run/postgresql', true],
    ['10.0.0.5', false],
    ['db.internal', false],
    ['127.example.com', false],
    ['[::ffff:127.0.0.1]', true],
    ['[::ffff:10.0.0.1]', false],
    ['LOCALHOST', true],
  ])('loopback(%s) = %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });

  it('treats a unix-socket host (percent-encoded path) as loopback', () => {
    const d = describeConnection('postgres://u@%2Fvar%2Frun%2Fpostgresql/db', {});
    expect(d).toMatchObject({ host: '/var/run/postgresql', loopback: true });
  });

  it('reports tls only for sslmodes that actually encrypt', () => {
    const tls = (mode: string) => describeConnection(`postgres://u@h/db?sslmode=${mode}`, {}).tls;
    expect(['disable', 'allow', 'prefer'].map(tls)).toEqual([false, false, false]);
    expect(['require', 'verify-ca', 'verify-full'].map(tls)).toEqual([true, true, true]);
  });

  it('takes sslmode from PGSSLMODE, but the URL wins', () => {
    expect(describeConnection('postgres://u@h/db', { PGSSLMODE: 'verify-full' }).sslmode).toBe('verify-full');
    expect(describeConnection('postgres://u@h/db?sslmode=disable', { PGSSLMODE: 'require' }).sslmode).toBe('disable');
  });

  it('rejects a bad URL with a DatabaseUrlError that does not echo the password', () => {
    const attempt =
      (url: string, env: NodeJS.ProcessEnv = {}) =>
      () =>
        describeConnection(url, env);
    expect(attempt('not a url :secretpw')).toThrow(DatabaseUrlError);
    expect(attempt('not a url :secretpw')).not.toThrow(/secretpw/);
    expect(attempt('mysql://u:secretpw@h/db')).toThrow(/postgres:\/\/ or postgresql:\/\/, not mysql:/);
    expect(attempt('postgres://u@h/db', { PGSSLMODE: 'always' })).toThrow(
      /sslmode "always" is not one of disable, allow, prefer, require, verify-ca, verify-full/,
    );
    try {
      describeConnection('http://u:secretpw@h/db', {});
    } catch (err) {
      expect(err).toBeInstanceOf(DatabaseError);
      expect((err as DatabaseUrlError).code).toBe('DB_URL');
      expect((err as Error).message).not.toContain('secretpw');
    }
    expect.assertions(7);
  });
});

describe('pgConnectionOptions (TLS for node-postgres)', () => {
  it('connects in the clear for disable, allow and prefer, and strips libpq-only parameters', () => {
    for (const mode of ['disable', 'allow', 'prefer']) {
      const o = pgConnectionOptions(`postgres://u:p@h:5/db?sslmode=${mode}&sslrootcert=${ca}&application_name=x`, {});
      expect(o.ssl).toBe(false);
      expect(o.connectionString).toBe('postgres://u:p@h:5/db?application_name=x');
    }
  });

  it('require encrypts without verifying the server', () => {
    const o = pgConnectionOptions('postgres://u@h/db?sslmode=require', {});
    expect(o.ssl).toMatchObject({ rejectUnauthorized: false, ca: undefined });
  });

  it('require with a root certificate verifies the chain but not the host name (libpq behaviour)', () => {
    const o = pgConnectionOptions(`postgres://u@h/db?sslmode=require&sslrootcert=${ca}`, {});
    if (o.ssl === false) throw new Error('expected TLS');
    expect(o.ssl.rejectUnauthorized).toBe(true);
    expect(o.ssl.ca).toEqual(Buffer.from('CA-BYTES'));
    expect(o.ssl.checkServerIdentity?.('h', {} as never)).toBeUndefined();
  });

  it('verify-ca checks the chain only; verify-full also checks the host name', () => {
    const vca = pgConnectionOptions(`postgres://u@h/db?sslmode=verify-ca&sslrootcert=${ca}`, {});
    const vfull = pgConnectionOptions(`postgres://u@h/db?sslmode=verify-full&sslrootcert=${ca}`, {});
    if (vca.ssl === false || vfull.ssl === false) throw new Error('expected TLS');
    expect(vca.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(vca.ssl.checkServerIdentity).toBeDefined();
    expect(vfull.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(vfull.ssl.checkServerIdentity).toBeUndefined(); // node's default: host name must match the certificate
  });

  it('reads the root certificate and client certificate/key from the PGSSL* variables', () => {
    const o = pgConnectionOptions('postgres://u@h/db', {
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: ca,
      PGSSLCERT: cert,
      PGSSLKEY: key,
    });
    expect(o.ssl).toMatchObject({
      ca: Buffer.from('CA-BYTES'),
      cert: Buffer.from('CERT-BYTES'),
      key: Buffer.from('KEY-BYTES'),
    });
  });

  it('URL parameters take precedence over the PGSSL* variables', () => {
    const other = pem('other-ca.pem', 'OTHER-CA');
    const o = pgConnectionOptions(`postgres://u@h/db?sslmode=verify-ca&sslrootcert=${other}`, {
      PGSSLMODE: 'disable',
      PGSSLROOTCERT: ca,
    });
    expect(o.ssl).toMatchObject({ ca: Buffer.from('OTHER-CA') });
  });

  it('names an unreadable certificate file and a client certificate without its key', () => {
    expect(() => pgConnectionOptions('postgres://u@h/db?sslmode=verify-full&sslrootcert=/nope/ca.pem', {})).toThrow(
      /cannot read sslrootcert \/nope\/ca.pem/,
    );
    expect(() => pgConnectionOptions(`postgres://u@h/db?sslmode=require&sslcert=${cert}`, {})).toThrow(
      /needs both sslcert and sslkey/,
    );
    expect(() => pgConnectionOptions(`postgres://u@h/db?sslmode=require&sslcert=${cert}`, {})).toThrow(
      DatabaseUrlError,
    );
  });
});
