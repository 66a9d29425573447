import { randomBytes } from 'node:crypto';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createDataApiSql } from '../../../functions/core/adapters/data-api-sql';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import { QueryError } from '../../../functions/core/ports/sql-errors';
import type { SqlPool } from '../../../functions/core/ports/sql';
import { startJob } from '../../../functions/core/reencrypt/job-runner';
import { migrate, schemaStatus } from '../../../functions/core/schema/migrate';
import { parseRegistry } from '../../../functions/core/reencrypt/registry';
import { createEngineRuntime } from '../../../functions/runtime/engine-runtime';
import { startDataApiServer, type DataApiServer } from '../../support/data-api-server';
import { freshDatabase, type TestDatabase } from '../../support/database';

/** The Data API adapter through the real RDSDataClient against a Data API endpoint backed by the real PostgreSQL. */
describe('Data API adapter', () => {
  let db: TestDatabase;
  let server: DataApiServer;
  let sql: SqlPool;

  beforeEach(async () => {
    db = await freshDatabase();
    server = await startDataApiServer(db.url);
    const client = new RDSDataClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    sql = createDataApiSql({
      client,
      resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:rekey',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-db',
      database: 'postgres',
    });
  });
  afterEach(async () => {
    await server.close();
    await db.drop();
  });

  it('round-trips every value type, blobs included', async () => {
    await sql.query('CREATE TABLE t (id bigint PRIMARY KEY, s text, b bytea, n int, d double precision, ok boolean, at timestamptz, j jsonb, nothing text)');
    const blob = Buffer.concat([Buffer.alloc(3), randomBytes(1 << 20), Buffer.alloc(2)]);
    const at = new Date('2026-11-22T10:11:12.345Z');
    await sql.query('INSERT INTO t VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9)', [
      '9007199254740993',
      'pässwörd 🔑 $1 inside',
      blob,
      42,
      1.5,
      true,
      at,
      { keyId: 'kek-v2', n: 3 },
      null,
    ]);
    const { rows } = await sql.query<Record<string, unknown>>('SELECT * FROM t');
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r.id).toBe('9007199254740992'); // the Data API returns int8 as a JSON number (precision as the real service)
    expect(r.s).toBe('pässwörd 🔑 $1 inside');
    expect(Buffer.compare(r.b as Buffer, blob)).toBe(0);
    expect(r.n).toBe(42);
    expect(r.d).toBe(1.5);
    expect(r.ok).toBe(true);
    expect((r.at as Date).toISOString()).toBe(at.toISOString());
    expect(r.j).toEqual({ keyId: 'kek-v2', n: 3 });
    expect(r.nothing).toBeNull();
  });

  it('expands text[] and bytea[] parameters in order, NULLs kept', async () => {
    await sql.query('CREATE TABLE a (id bigint PRIMARY KEY, v text, b bytea)');
    const blobs = [randomBytes(40), Buffer.alloc(0), randomBytes(7)];
    const result = await sql.query('INSERT INTO a SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])', [
      ['1', '2', '3'],
      ['one', null, "th'ree $2"],
      blobs,
    ]);
    expect(result.rowCount).toBe(3);
    const { rows } = await sql.query<{ id: string; v: string | null; b: Buffer }>('SELECT id, v, b FROM a ORDER BY id');
    expect(rows.map((r) => r.v)).toEqual(['one', null, "th'ree $2"]);
    rows.forEach((r, i) => expect(Buffer.compare(r.b, blobs[i]!)).toBe(0));
  });

  it('commits and rolls back transactions, nested ones as savepoints', async () => {
    await sql.query('CREATE TABLE c (n int)');
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO c VALUES (1)');
      await tx.transaction(async (inner) => inner.query('INSERT INTO c VALUES (2)')).catch(() => undefined);
      await tx.transaction(async (inner) => {
        await inner.query('INSERT INTO c VALUES (3)');
        throw new Error('inner fails');
      }).catch(() => undefined);
    });
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO c VALUES (4)');
      throw new Error('outer fails');
    }).catch(() => undefined);
    const { rows } = await sql.query<{ n: number }>('SELECT n FROM c ORDER BY n');
    expect(rows.map((r) => r.n)).toEqual([1, 2]);
    expect(server.calls['/BeginTransaction']).toBe(2);
    expect(server.calls['/RollbackTransaction']).toBe(1);
  });

  it('reports SQL errors as typed errors without parameter values', async () => {
    await sql.query('CREATE TABLE u (id int PRIMARY KEY, secret text)');
    await sql.query('INSERT INTO u VALUES ($1, $2)', [1, 'sk-live-secret-value']);
    const err = await sql.query('INSERT INTO u VALUES ($1, $2)', [1, 'sk-live-secret-value']).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).sqlState).toBe('23505');
    expect((err as Error).message).toMatch(/duplicate key value/);
    expect((err as Error).message).not.toContain('sk-live-secret-value');
    expect((err as Error).message).not.toMatch(/Key \(id\)=\(1\)/);
  });

  it('runs the migrations and a whole rewrap job through the Data API', async () => {
    await migrate(sql);
    expect((await schemaStatus(sql)).pending).toEqual([]);
    await sql.query('CREATE TABLE secrets (id bigint PRIMARY KEY, v text)');
    const v1 = { id: 'kek-v1', key: randomBytes(32) };
    const v2 = { id: 'kek-v2', key: randomBytes(32) };
    const old = await EnvelopeCipher.create({ keyring: new RawKeyring([v1]) });
    const ids = Array.from({ length: 300 }, (_, i) => String(i + 1));
    const values = await Promise.all(ids.map((id) => old.encrypt(`s-${id}`, { table: 'secrets', column: 'v', rowId: id })));
    await sql.query('INSERT INTO secrets SELECT * FROM unnest($1::bigint[], $2::text[])', [ids, values]);
    const runtime = await createEngineRuntime({
      sql,
      keyring: new RawKeyring([v2, v1]),
      registry: parseRegistry({ tables: [{ name: 'secrets', idColumn: 'id', columns: ['v'] }] }),
      actor: 'data-api-test',
    });
    const outcome = await startJob(runtime.deps, { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' });
    expect(outcome.job.status).toBe('completed');
    const { rows } = await sql.query<{ v: string }>('SELECT v FROM secrets');
    expect(new Set(rows.map((r) => peekKeyId(r.v)))).toEqual(new Set(['kek-v2']));
  });
});
