import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createPgSql, DatabaseUrlError } from '../../../functions/core/adapters/pg/sql';
import type { SqlPool } from '../../../functions/core/ports/sql';
import {
  DatabaseAuthenticationError,
  DatabaseConnectionError,
  DatabaseError,
  QueryError,
  SerializationError,
  StatementTimeoutError,
  UniqueViolationError,
  UnknownDatabaseError,
} from '../../../functions/core/ports/sql-errors';
import { freshDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';
import { freePort } from '../../../functions/local/services/free-port';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../../functions/local/services/postgres-cluster';
import { makeTestCertificates, type TestCertificates } from '../../support/tls-certificates';

/** The pg adapter against a real PostgreSQL: what goes in comes back, transactions, and the errors callers see. */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase({ poolSize: 2 });
  await db.sql.query('CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL UNIQUE, n int CHECK (n >= 0))');
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.sql.query('TRUNCATE t');
});

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );

describe('types round trip', () => {
  it('bytea in and out as Buffer, every byte value intact', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { rows } = await db.sql.query<{ b: Buffer; len: number }>('SELECT $1::bytea AS b, length($1::bytea) AS len', [
      all,
    ]);
    expect(Buffer.isBuffer(rows[0]!.b)).toBe(true);
    expect(rows[0]!.b.equals(all)).toBe(true);
    expect(rows[0]!.len).toBe(256);
  });

  it('text[] and bytea[] parameters, with NULL elements and empty arrays', async () => {
    const texts = ['a', 'with "quotes", commas {braces}', '', 'ü'];
    const blobs = [Buffer.from([0, 1, 2]), Buffer.alloc(0), Buffer.from('\\x00', 'utf8')];
    const { rows } = await db.sql.query<{ t: string[]; b: Buffer[]; tn: (string | null)[]; e: string[] }>(
      'SELECT $1::text[] AS t, $2::bytea[] AS b, $3::text[] AS tn, $4::text[] AS e',
      [texts, blobs, ['x', null], []],
    );
    expect(rows[0]!.t).toEqual(texts);
    expect(rows[0]!.b.map((b) => b.toString('hex'))).toEqual(blobs.map((b) => b.toString('hex')));
    expect(rows[0]!.tn).toEqual(['x', null]);
    expect(rows[0]!.e).toEqual([]);
  });

  it('unnest over array parameters inserts many rows in one statement', async () => {
    const ids = ['1', '2', '3'];
    const names = ['one', 'two', 'three'];
    const res = await db.sql.query('INSERT INTO t (id, name) SELECT unnest($1::int[]), unnest($2::text[])', [
      ids,
      names,
    ]);
    expect(res.rowCount).toBe(3);
    const { rows } = await db.sql.query<{ name: string }>('SELECT name FROM t ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(names);
  });

  it('int8 comes back as a string, exact past 2^53; bigint parameters are exact too', async () => {
    const big = 9007199254740993n; // 2^53 + 1: a JS number would round it
    const { rows } = await db.sql.query<{ v: string; c: string; s: string }>(
      'SELECT $1::int8 AS v, (SELECT count(*) FROM t) AS c, $2::int8 + 1 AS s',
      [big, '9007199254740992'],
    );
    expect(rows[0]).toEqual({ v: '9007199254740993', c: '0', s: '9007199254740993' });
  });

  it('jsonb objects in and out; timestamptz as Date; booleans and NULL', async () => {
    const details = { ids: ['kek-v1', 'kek-v2'], counts: { rows: 3 }, nested: [{ a: null }] };
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { rows } = await db.sql.query<{ j: unknown; at: Date; yes: boolean; nothing: null }>(
      'SELECT $1::jsonb AS j, $2::timestamptz AS at, $3::boolean AS yes, $4::text AS nothing',
      [details, at, true, null],
    );
    expect(rows[0]!.j).toEqual(details);
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(rows[0]!.at.toISOString()).toBe(at.toISOString());
    expect(rows[0]!.yes).toBe(true);
    expect(rows[0]!.nothing).toBeNull();
  });

  it('rowCount counts affected rows', async () => {
    await db.sql.query("INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')");
    expect((await db.sql.query('UPDATE t SET n = 1')).rowCount).toBe(2);
    expect((await db.sql.query('DELETE FROM t WHERE id = $1', [3])).rowCount).toBe(0);
  });
});

describe('transactions', () => {
  const names = async (): Promise<string[]> =>
    (await db.sql.query<{ name: string }>('SELECT name FROM t ORDER BY id')).rows.map((r) => r.name);

  it('commits when the callback resolves and returns its value', async () => {
    const value = await db.sql.transaction(async (tx) => {
      await tx.query("INSERT INTO t (id, name) VALUES (1, 'a')");
      return 42;
    });
    expect(value).toBe(42);
    expect(await names()).toEqual(['a']);
  });

  it('rolls back everything when the callback throws, and rethrows that error', async () => {
    const boom = new Error('boom');
    const err = await rejection(
      db.sql.transaction(async (tx) => {
        await tx.query("INSERT INTO t (id, name) VALUES (1, 'a')");
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    expect(await names()).toEqual([]);
  });

  it('runs every statement of a transaction on one connection', async () => {
    const pids = await db.sql.transaction(async (tx) => {
      const out: number[] = [];
      for (let i = 0; i < 5; i++)
        out.push((await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      return out;
    });
    expect(new Set(pids).size).toBe(1);
  });

  it('a nested transaction is a savepoint: its failure undoes only its own part', async () => {
    await db.sql.transaction(async (tx) => {
      await tx.query("INSERT INTO t (id, name) VALUES (1, 'outer')");
      const inner = await rejection(
        tx.transaction(async (nested) => {
          await nested.query("INSERT INTO t (id, name) VALUES (2, 'inner')");
          await nested.query("INSERT INTO t (id, name) VALUES (3, 'outer')"); // unique violation
        }),
      );
      expect(inner).toBeInstanceOf(UniqueViolationError);
      await tx.transaction(async (nested) => {
        await nested.query("INSERT INTO t (id, name) VALUES (4, 'kept')");
      });
      await tx.query("INSERT INTO t (id, name) VALUES (5, 'after')");
    });
    expect(await names()).toEqual(['outer', 'kept', 'after']);
  });

  it('a nested success is undone when the outer transaction fails', async () => {
    await rejection(
      db.sql.transaction(async (tx) => {
        await tx.transaction((nested) => nested.query("INSERT INTO t (id, name) VALUES (1, 'inner')"));
        throw new Error('outer fails');
      }),
    );
    expect(await names()).toEqual([]);
  });

  it('a connection killed in the middle of a transaction is a retryable connection error, not a crash', async () => {
    requireRealPostgres('PGlite has no pg_terminate_backend');
    const lost = await rejection(
      db.sql.transaction(async (tx) => {
        await tx.query("INSERT INTO t (id, name) VALUES (1, 'doomed')");
        const { pid } = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
        // Killed from the other pooled connection while this one sits idle in the transaction:
        // the socket closes between statements, when nothing of ours is awaiting it.
        await db.sql.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await tx.query('SELECT 1');
      }),
    );
    if (!(lost instanceof DatabaseConnectionError)) throw lost;
    expect((lost as DatabaseError).retryable).toBe(true);
    expect(await names()).toEqual([]);
    // The dead client was discarded, not returned: the pool still serves transactions.
    await expect(db.sql.transaction((tx) => tx.query('SELECT 1 AS one'))).resolves.toMatchObject({
      rows: [{ one: 1 }],
    });
  });

  it('returns connections to the pool after failed transactions', async () => {
    for (let i = 0; i < 6; i++) {
      await rejection(db.sql.transaction((tx) => tx.query('SELECT * FROM no_such_table')));
    }
    // A pool of 2 would be exhausted (and this would wait forever) if any were leaked.
    await expect(db.sql.transaction((tx) => tx.query('SELECT 1 AS one'))).resolves.toMatchObject({
      rows: [{ one: 1 }],
    });
  });
});

describe('errors', () => {
  it('a duplicate key is a UniqueViolationError naming the constraint, not the value', async () => {
    await db.sql.query('INSERT INTO t (id, name) VALUES ($1, $2)', [1, 'secret-name-1']);
    const err = await rejection(db.sql.query('INSERT INTO t (id, name) VALUES ($1, $2)', [2, 'secret-name-1']));
    expect(err).toBeInstanceOf(UniqueViolationError);
    expect((err as UniqueViolationError).sqlState).toBe('23505');
    expect((err as Error).message).toContain('t_name_key');
    expect((err as Error).message).not.toContain('secret-name-1');
    expect((err as UniqueViolationError).retryable).toBe(false);
  });

  it('bad input does not echo the parameter in the message', async () => {
    const err = await rejection(db.sql.query('SELECT $1::int AS n', ['s3cret-not-a-number']));
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).sqlState).toBe('22P02');
    expect((err as Error).message).toMatch(/invalid input syntax for type integer/);
    expect((err as Error).message).not.toContain('s3cret');
    const json = await rejection(db.sql.query('SELECT $1::jsonb AS j', ['{"k": s3cret}']));
    expect((json as Error).message).not.toContain('s3cret');
  });

  it('a check constraint violation is a QueryError that names the constraint', async () => {
    const err = await rejection(db.sql.query('INSERT INTO t (id, name, n) VALUES (1, $1, -5)', ['x']));
    expect(err).toBeInstanceOf(QueryError);
    expect((err as Error).message).toContain('t_n_check');
    expect((err as QueryError).sqlState).toBe('23514');
  });

  it('a statement past statementTimeoutMs is cancelled (57014): a retryable StatementTimeoutError', async () => {
    requireRealPostgres('PGlite ignores statement_timeout');
    const slow = createPgSql({ connectionString: db.url, max: 1, statementTimeoutMs: 50 });
    try {
      const err = await rejection(slow.query('SELECT pg_sleep(30)'));
      expect(err).toBeInstanceOf(StatementTimeoutError);
      expect((err as StatementTimeoutError).sqlState).toBe('57014');
      expect((err as StatementTimeoutError).retryable).toBe(true);
      expect((err as Error).message).toMatch(/statement_timeout/);
    } finally {
      await slow.close();
    }
  });

  it('an unknown database is an UnknownDatabaseError that says to create it or fix the name', async () => {
    requireRealPostgres('PGlite has one database and accepts any name');
    const url = new URL(db.url);
    url.pathname = '/rekey_no_such_db';
    const sql = createPgSql({ connectionString: url.toString(), max: 1 });
    const err = await rejection(sql.query('SELECT 1'));
    await sql.close();
    expect(err).toBeInstanceOf(UnknownDatabaseError);
    expect((err as Error).message).toMatch(/rekey_no_such_db.*create it, or fix the database name/);
  });

  it('a role that may not log in is a DatabaseAuthenticationError', async () => {
    requireRealPostgres('PGlite does not check logins');
    const role = `rekey_nologin_${process.pid}`;
    await db.sql.query(`CREATE ROLE ${role} NOLOGIN`);
    const url = new URL(db.url);
    url.username = role;
    const sql = createPgSql({ connectionString: url.toString(), max: 1 });
    try {
      const err = await rejection(sql.query('SELECT 1'));
      expect(err).toBeInstanceOf(DatabaseAuthenticationError);
      expect((err as DatabaseAuthenticationError).sqlState).toBe('28000');
      expect((err as Error).message).toMatch(/check the user and password/);
    } finally {
      await sql.close();
      await db.sql.query(`DROP ROLE ${role}`);
    }
  });

  it('nobody listening is a retryable DatabaseConnectionError saying what to check, without the password', async () => {
    const url = `postgres://rekey:hunter2pw@127.0.0.1:${await freePort()}/db`;
    const sql = createPgSql({ connectionString: url, max: 1 });
    const err = await rejection(sql.query('SELECT 1'));
    await sql.close();
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect((err as DatabaseConnectionError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/ECONNREFUSED.*check host and port/);
    expect((err as Error).message).not.toContain('hunter2pw');
  });

  it('a malformed URL fails at creation with DatabaseUrlError', () => {
    expect(() => createPgSql({ connectionString: 'postgres://u:pw@h/db?sslmode=bogus' })).toThrow(DatabaseUrlError);
  });

  it('a serialization failure is a retryable SerializationError', async () => {
    requireRealPostgres('the serialization test holds two transactions open at once');
    await db.sql.query("INSERT INTO t (id, name, n) VALUES (1, 'a', 0)");
    const other = createPgSql({ connectionString: db.url, max: 1 });
    try {
      const err = await rejection(
        db.sql.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await tx.query('SELECT n FROM t WHERE id = 1'); // takes the snapshot
          await other.query('UPDATE t SET n = n + 1 WHERE id = 1'); // commits in between
          await tx.query('UPDATE t SET n = n + 10 WHERE id = 1'); // 40001: concurrent update
        }),
      );
      expect(err).toBeInstanceOf(SerializationError);
      expect((err as SerializationError).sqlState).toBe('40001');
      expect((err as SerializationError).retryable).toBe(true);
      const { rows } = await db.sql.query<{ n: number }>('SELECT n FROM t WHERE id = 1');
      expect(rows[0]!.n).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('sslmode=require against a server without TLS is a connection error that names TLS', async () => {
    const plain = new URL(db.url); // the harness's server has no TLS
    plain.searchParams.set('sslmode', 'require');
    const sql = createPgSql({ connectionString: plain.toString(), max: 1, env: {} });
    const err = await rejection(sql.query('SELECT 1'));
    await sql.close();
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect((err as Error).message).toMatch(/TLS|SSL/);
  });

  it('every error of the adapter is a DatabaseError carrying its cause', async () => {
    const err = await rejection(db.sql.query('SELEC 1'));
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).sqlState).toBe('42601');
    expect((err as Error).cause).toMatchObject({ code: '42601', severity: 'ERROR' });
  });

  it('keeps no row value in the error or its cause: the server DETAIL is dropped', async () => {
    await db.sql.query('CREATE TABLE IF NOT EXISTS detail_probe (email text PRIMARY KEY)');
    await db.sql.query('INSERT INTO detail_probe VALUES ($1)', ['alice-secret@example.com']);
    const err = await rejection(db.sql.query('INSERT INTO detail_probe VALUES ($1)', ['alice-secret@example.com']));
    expect(err).toBeInstanceOf(UniqueViolationError);
    const cause = (err as Error).cause as Record<string, unknown>;
    expect(cause).toMatchObject({ code: '23505', constraint: 'detail_probe_pkey', table: 'detail_probe' });
    const everything = JSON.stringify([err, cause], (_k, v: unknown) =>
      v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v,
    );
    expect(everything).not.toContain('alice-secret');
  });
});

describe('close', () => {
  it('can be called twice', async () => {
    const sql: SqlPool = createPgSql({ connectionString: db.url, max: 1 });
    await sql.query('SELECT 1');
    await sql.close();
    await expect(sql.close()).resolves.toBeUndefined();
  });
});

/** TLS against a server of our own with ssl=on and a certificate for IP 127.0.0.1 signed by a throwaway CA. */
describe('TLS (sslmode) against a TLS-enabled PostgreSQL', () => {
  let certs: TestCertificates;
  let server: ThrowawayPostgres;
  beforeAll(async () => {
    requireRealPostgres('the TLS tests start a PostgreSQL cluster of their own');
    certs = makeTestCertificates('IP:127.0.0.1');
    chmodSync(certs.serverKey, 0o600);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'postgres:postgres', certs.dir]);
    server = await startThrowawayPostgres({
      settings: { ssl: 'on', ssl_cert_file: certs.serverCert, ssl_key_file: certs.serverKey },
    });
  });
  afterAll(async () => {
    await server?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  const encrypted = async (url: string): Promise<boolean> => {
    const sql = createPgSql({ connectionString: url, max: 1, env: {} });
    try {
      const { rows } = await sql.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return rows[0]!.ssl;
    } finally {
      await sql.close();
    }
  };
  const withParams = (params: Record<string, string>, host = '127.0.0.1'): string => {
    const url = new URL(server.url);
    url.hostname = host;
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  };

  it('disable and prefer connect in the clear (node-postgres cannot fall back, so prefer means no TLS)', async () => {
    expect(await encrypted(withParams({ sslmode: 'disable' }))).toBe(false);
    expect(await encrypted(withParams({ sslmode: 'prefer' }))).toBe(false);
  });

  it('require encrypts without checking the certificate', async () => {
    expect(await encrypted(withParams({ sslmode: 'require' }))).toBe(true);
  });

  it('verify-full with the right CA and a matching host encrypts', async () => {
    expect(await encrypted(withParams({ sslmode: 'verify-full', sslrootcert: certs.caCert }))).toBe(true);
  });

  it('verify-ca and verify-full refuse a server signed by another CA', async () => {
    for (const sslmode of ['verify-ca', 'verify-full']) {
      const err = await rejection(encrypted(withParams({ sslmode, sslrootcert: certs.otherCaCert })));
      expect(err).toBeInstanceOf(DatabaseConnectionError);
      expect((err as Error).message).toMatch(/TLS problem.*check sslmode, sslrootcert/);
    }
  });

  it('require with a root certificate verifies the chain, as libpq does', async () => {
    const err = await rejection(encrypted(withParams({ sslmode: 'require', sslrootcert: certs.otherCaCert })));
    expect(err).toBeInstanceOf(DatabaseConnectionError);
  });

  it('verify-full refuses a host name the certificate does not name; verify-ca accepts it', async () => {
    const err = await rejection(
      encrypted(withParams({ sslmode: 'verify-full', sslrootcert: certs.caCert }, 'localhost')),
    );
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect((err as Error).message).toMatch(/host name is in the certificate/);
    expect(await encrypted(withParams({ sslmode: 'verify-ca', sslrootcert: certs.caCert }, 'localhost'))).toBe(true);
  });

  it('PGSSLMODE / PGSSLROOTCERT apply when the URL says nothing', async () => {
    const sql = createPgSql({
      connectionString: withParams({}),
      max: 1,
      env: { PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.caCert },
    });
    try {
      const { rows } = await sql.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows[0]!.ssl).toBe(true);
    } finally {
      await sql.close();
    }
  });
});
