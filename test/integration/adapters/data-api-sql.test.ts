import { createHash, randomBytes } from 'node:crypto';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
} from '@aws-sdk/client-rds-data';
import {
  createDataApiSql,
  DataApiLimitError,
  DataApiParameterError,
  DataApiTransactionError,
  type DataApiSqlOptions,
  type DataApiSqlPool,
} from '../../../functions/core/adapters/data-api-sql';
import { EnvelopeCipher } from '../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../functions/core/crypto/keyrings/raw';
import type { SqlValue } from '../../../functions/core/ports/sql';
import {
  QueryError,
  ResultTooLargeError,
  StatementTimeoutError,
  UniqueViolationError,
} from '../../../functions/core/ports/sql-errors';
import { startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { verify } from '../../../functions/core/reencrypt/verify/verify';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { migrate, schemaStatus } from '../../../functions/core/schema/migrate';
import { createEngineRuntime } from '../../../functions/runtime/engine-runtime';
import {
  startDataApiServer,
  type DataApiServer,
  type DataApiServerOptions,
} from '../../../functions/local/services/data-api/server';
import { freshDatabase, testPoolSize, type TestDatabase } from '../../support/database';

/**
 * The Data API adapter through the real RDSDataClient (endpoint override,
 * fake credentials) against functions/local/services/data-api/server.ts, a Data API
 * endpoint backed by the real PostgreSQL.
 */
const ARNS = {
  resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:rekey',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rekey-db',
};

describe('Data API adapter', () => {
  let db: TestDatabase;
  let server: DataApiServer;
  let client: RDSDataClient;
  let sql: DataApiSqlPool;

  const start = async (
    serverOptions: DataApiServerOptions = {},
    adapterOptions: Partial<DataApiSqlOptions> = {},
  ): Promise<void> => {
    await server?.close();
    client?.destroy();
    server = await startDataApiServer(db.url, { maxConnections: testPoolSize(8), ...serverOptions });
    client = new RDSDataClient({
      endpoint: server.endpoint,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    sql = createDataApiSql({ client, ...ARNS, database: 'rekey', baseDelayMs: 1, ...adapterOptions });
  };

  beforeEach(async () => {
    db = await freshDatabase({ poolSize: 1 });
    await start();
  });
  afterEach(async () => {
    await server.close();
    client.destroy();
    await db.drop();
  });

  it('round-trips every value type', async () => {
    await sql.query(
      'CREATE TABLE t (id bigint PRIMARY KEY, big bigint, s text, b bytea, n int, d double precision, ok boolean, at timestamptz, j jsonb, u uuid, amount numeric, nothing text)',
    );
    const blob = Buffer.concat([Buffer.alloc(3), randomBytes(4000), Buffer.alloc(2)]);
    const at = new Date('2026-11-22T10:11:12.345Z');
    const uuid = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
    await sql.query(
      'INSERT INTO t VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::uuid, $11::numeric, $12)',
      [
        '9007199254740993',
        2n ** 62n + 1n,
        "pässwörd 🔑 $1 'quoted' ✓",
        blob,
        -42,
        1.5,
        true,
        at,
        { keyId: 'kek-v2', nested: { n: 3, list: [1, 'two'] } },
        uuid,
        '12345678901234567890.123456789',
        null,
      ],
    );
    const { rows } = await sql.query<Record<string, unknown>>('SELECT * FROM t');
    expect(rows).toEqual([
      {
        id: '9007199254740993', // exact: the adapter asks for LONG as strings, as the pg adapter returns int8
        big: (2n ** 62n + 1n).toString(),
        s: "pässwörd 🔑 $1 'quoted' ✓",
        b: blob,
        n: -42,
        d: 1.5,
        ok: true,
        at,
        j: { keyId: 'kek-v2', nested: { n: 3, list: [1, 'two'] } },
        u: uuid,
        amount: '12345678901234567890.123456789',
        nothing: null,
      },
    ]);
    expect(Buffer.compare(rows[0]!.b as Buffer, blob)).toBe(0);
  });

  it('writes a 1 MiB blob in one request and reads it back in slices under the 64 KB row limit', async () => {
    await sql.query('CREATE TABLE blobs (id int PRIMARY KEY, b bytea)');
    const blob = Buffer.concat([Buffer.alloc(17), randomBytes(1 << 20), Buffer.alloc(5)]);
    await sql.query('INSERT INTO blobs VALUES ($1, $2)', [1, blob]);
    // The whole value is over what the Data API returns in one row: a typed error that says what to do.
    const err = await sql.query('SELECT b FROM blobs').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataApiLimitError);
    expect((err as Error).message).toMatch(/substring/);
    const slice = 32 * 1024;
    const parts: Buffer[] = [];
    for (let from = 1; from <= blob.length; from += slice) {
      // Integer parameters are int8 on the Data API: substring() wants int, hence the casts.
      const { rows } = await sql.query<{ part: Buffer }>(
        'SELECT substring(b FROM $1::int FOR $2::int) AS part FROM blobs WHERE id = $3',
        [from, slice, 1],
      );
      parts.push(rows[0]!.part);
    }
    expect(Buffer.compare(Buffer.concat(parts), blob)).toBe(0);
    expect((await sql.query('SELECT length(b) AS n FROM blobs')).rows).toEqual([{ n: blob.length }]);
  });

  it('expands text[] and bytea[] parameters in order, NULLs kept', async () => {
    await sql.query('CREATE TABLE a (id bigint PRIMARY KEY, v text, b bytea)');
    const blobs = [randomBytes(40), Buffer.alloc(0), Buffer.from([0, 0, 1, 0])];
    const result = await sql.query('INSERT INTO a SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])', [
      ['1', '2', '3'],
      ['one', null, "th'ree $2 ü"],
      blobs,
    ]);
    expect(result.rowCount).toBe(3);
    const { rows } = await sql.query<{ id: string; v: string | null; b: Buffer }>('SELECT id, v, b FROM a ORDER BY id');
    expect(rows.map((r) => r.v)).toEqual(['one', null, "th'ree $2 ü"]);
    rows.forEach((r, i) => expect(Buffer.compare(r.b, blobs[i]!)).toBe(0));
    const { rows: found } = await sql.query<{ id: string }>('SELECT id FROM a WHERE v = ANY($1) ORDER BY id', [
      ['one', "th'ree $2 ü", 'absent'],
    ]);
    expect(found.map((r) => r.id)).toEqual(['1', '3']);
  });

  it('leaves $n inside literals, quoted identifiers, dollar quotes and comments alone', async () => {
    const { rows } = await sql.query<Record<string, string>>(
      `SELECT '$1' AS a, $1::text AS "b$2", $$ $2 $$ AS c, $tag$ it's $1 $tag$ AS d, E'\\'$2' AS e /* $2 /* $3 */ $2 */ -- $3\n, $2::text AS f`,
      ['one', 'two'],
    );
    expect(rows).toEqual([{ a: '$1', b$2: 'one', c: ' $2 ', d: " it's $1 ", e: "'$2", f: 'two' }]);
  });

  it('commits and rolls back transactions, nested ones as savepoints', async () => {
    await sql.query('CREATE TABLE c (n int)');
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO c VALUES (1)');
      await tx.transaction(async (inner) => inner.query('INSERT INTO c VALUES (2)'));
      await tx
        .transaction(async (inner) => {
          await inner.query('INSERT INTO c VALUES (3)');
          throw new Error('inner fails');
        })
        .catch(() => undefined);
    });
    await sql
      .transaction(async (tx) => {
        await tx.query('INSERT INTO c VALUES (4)');
        throw new Error('outer fails');
      })
      .catch(() => undefined);
    const { rows } = await sql.query<{ n: number }>('SELECT n FROM c ORDER BY n');
    expect(rows.map((r) => r.n)).toEqual([1, 2]);
    expect(server.calls['/BeginTransaction']).toBe(2);
    expect(server.calls['/CommitTransaction']).toBe(1);
    expect(server.calls['/RollbackTransaction']).toBe(1);
    expect(server.openTransactions()).toBe(0);
  });

  it('splits a batch across BatchExecuteStatement requests within the 4 MiB limit, all or nothing', async () => {
    await sql.query('CREATE TABLE batch (id int PRIMARY KEY, b bytea)');
    const sets = Array.from({ length: 48 }, (_, i) => [i + 1, randomBytes(256 * 1024)] as [number, Buffer]);
    // The endpoint refuses the whole batch in one request, as the service does.
    const whole = await client
      .send(
        new BatchExecuteStatementCommand({
          ...ARNS,
          sql: 'INSERT INTO batch VALUES (:p1, :p2)',
          parameterSets: sets.map(([id, b]) => [
            { name: 'p1', value: { longValue: id } },
            { name: 'p2', value: { blobValue: b } },
          ]),
        }),
      )
      .then(
        () => new Error('accepted'),
        (e: unknown) => e as Error,
      );
    expect(whole.message).toMatch(/exceeds the 4194304-byte limit/);

    const result = await sql.executeBatch('INSERT INTO batch VALUES ($1, $2)', sets);
    expect(result.parameterSets).toBe(48);
    expect(result.requests).toBeGreaterThanOrEqual(4); // 12 MiB of blobs are 16 MiB in base64
    expect(server.calls['/BatchExecute']).toBe(result.requests); // the refused one never reached the operation
    const { rows } = await sql.query<{ id: number; digest: string }>(
      "SELECT id, encode(sha256(b), 'hex') AS digest FROM batch ORDER BY id",
    );
    expect(rows.map((r) => r.id)).toEqual(sets.map(([id]) => id));
    expect(rows.map((r) => r.digest)).toEqual(sets.map(([, b]) => createHash('sha256').update(b).digest('hex')));

    // A smaller configured limit takes more requests; a failure in the last one leaves nothing behind.
    await start({}, { maxBatchBytes: 1024 * 1024 });
    const more = sets.map(([id, b]) => [id + 100, b] as [number, Buffer]);
    more[more.length - 1] = [1, randomBytes(16)]; // duplicate key, in the last request
    const err = await sql.executeBatch('INSERT INTO batch VALUES ($1, $2)', more).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UniqueViolationError);
    expect(server.calls['/BatchExecute']).toBeGreaterThanOrEqual(12);
    expect((await sql.query('SELECT 1 FROM batch WHERE id > 100')).rowCount).toBe(0);
    expect(server.openTransactions()).toBe(0);
  });

  it('a batch whose sets mix NULL with timestamps, bigints and arrays writes each as given', async () => {
    await sql.query('CREATE TABLE mixed (id int PRIMARY KEY, at timestamptz, big bigint, tags text[], blobs bytea[])');
    const at = new Date('2026-03-04T05:06:07.089Z');
    const sets: SqlValue[][] = [
      [1, null, null, null, null],
      [2, at, 9_007_199_254_740_993n, ['a', 'b'], [Buffer.from([1, 2])]],
      [3, null, null, null, null],
    ];
    const result = await sql.executeBatch('INSERT INTO mixed VALUES ($1, $2, $3, $4, $5)', sets);
    expect(result).toEqual({ parameterSets: 3, requests: 1 });
    const { rows } = await sql.query<Record<string, unknown>>(
      'SELECT id, at, big::text AS big, tags, blobs IS NULL AS blobs_null, cardinality(tags) AS n FROM mixed ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 1, at: null, big: null, tags: null, blobs_null: true, n: null },
      { id: 2, at, big: '9007199254740993', tags: ['a', 'b'], blobs_null: false, n: 2 },
      { id: 3, at: null, big: null, tags: null, blobs_null: true, n: null },
    ]);
    // Sets whose values cannot share one statement are refused before anything is sent.
    const before = server.calls['/BatchExecute'] ?? 0;
    const err = await sql
      .executeBatch('INSERT INTO mixed (id, big) VALUES ($1, $2)', [
        [4, 5],
        [5, 9_007_199_254_740_993n],
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataApiParameterError);
    expect((err as Error).message).toMatch(/parameter set 2 needs different SQL than set 1 for \$2/);
    expect(server.calls['/BatchExecute'] ?? 0).toBe(before);
  });

  it('a statement past the service timeout is stopped: a retryable StatementTimeoutError saying so, nothing of it kept, its transaction rolled back', async () => {
    await start({ statementTimeoutMs: 300 });
    await sql.query('CREATE TABLE slow (id int PRIMARY KEY)');
    const err = await sql.query('INSERT INTO slow SELECT 1 FROM pg_sleep(2)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatementTimeoutError);
    expect((err as Error).message).toMatch(
      /ExecuteStatement: the statement ran past the Data API's 45 s timeout and was stopped; retry, or make it cheaper/,
    );
    expect((err as StatementTimeoutError).retryable).toBe(true);
    expect((await sql.query('SELECT count(*)::int AS n FROM slow')).rows).toEqual([{ n: 0 }]);
    const inTx = await sql.transaction((tx) => tx.query('SELECT 1 FROM pg_sleep(2)')).catch((e: unknown) => e);
    expect(inTx).toBeInstanceOf(StatementTimeoutError);
    expect(server.openTransactions()).toBe(0); // rolled back
  });

  it('refuses result columns of types the service cannot return, as it does: void, name, interval, "char"', async () => {
    for (const [statement, type] of [
      ['SELECT pg_advisory_xact_lock(42)', 'VOID'],
      ['SELECT current_user AS who', 'NAME'],
      ["SELECT interval '1 day' AS i", 'INTERVAL'],
      [`SELECT 'r'::"char" AS kind`, 'CHAR'],
    ] as const) {
      const err = await sql.query(statement).catch((e: unknown) => e);
      expect([statement, err instanceof DataApiLimitError]).toEqual([statement, true]);
      expect((err as Error).message).toContain(`unsupported data type ${type}`);
    }
    // What the product selects instead, and the documented types, pass.
    await expect(sql.query('SELECT 1 AS locked FROM pg_advisory_xact_lock(42)')).resolves.toEqual({
      rows: [{ locked: 1 }],
      rowCount: 1,
    });
    await sql.query("CREATE TYPE mood AS ENUM ('ok', 'sad')");
    await expect(
      sql.query("SELECT 'ok'::mood AS m, current_user::text AS who, '10.0.0.1'::inet AS ip"),
    ).resolves.toMatchObject({ rows: [{ m: 'ok', ip: '10.0.0.1' }] });
    // The adapter's own SQL (migrations, advisory locks, catalog reads) runs under these rules.
    await migrate(sql);
    expect((await schemaStatus(sql)).pending).toEqual([]);
  });

  it('keeps no session state between calls outside a transaction; set_config(…, true) holds inside the transaction that set it', async () => {
    await sql.query("SELECT set_config('rekey.tenant', 'acme', false)");
    await sql.query("SET application_name = 'leaky'");
    expect(
      (
        await sql.query(
          "SELECT coalesce(current_setting('rekey.tenant', true), '') AS t, current_setting('application_name') AS app",
        )
      ).rows,
    ).toEqual([{ t: '', app: '' }]);
    const seen = await sql.transaction(async (tx) => {
      await tx.query("SELECT set_config('rekey.tenant', $1, true)", ['acme']);
      return (await tx.query<{ t: string }>("SELECT current_setting('rekey.tenant', true) AS t")).rows[0]!.t;
    });
    expect(seen).toBe('acme');
    expect((await sql.query("SELECT coalesce(current_setting('rekey.tenant', true), '') AS t")).rows).toEqual([
      { t: '' },
    ]);
  });

  it('refuses a second call in flight on one transaction, ends a transaction whose call failed, and caps sql length — the adapter stays within all three', async () => {
    const raw = (input: Record<string, unknown>) =>
      client.send(new ExecuteStatementCommand({ ...ARNS, sql: 'SELECT 1', ...input }));
    const { transactionId } = await client.send(new BeginTransactionCommand({ ...ARNS }));
    const [slow, second] = await Promise.allSettled([
      raw({ sql: 'SELECT 1 FROM pg_sleep(0.3)', transactionId }),
      raw({ transactionId }),
    ]);
    expect(slow.status).toBe('fulfilled');
    expect(second).toMatchObject({
      status: 'rejected',
      reason: { name: 'DatabaseErrorException', message: 'Transaction is still running a query' },
    });
    await expect(raw({ sql: 'SELECT * FROM no_such_table', transactionId })).rejects.toMatchObject({
      name: 'DatabaseErrorException',
    });
    await expect(raw({ transactionId })).rejects.toMatchObject({
      name: 'TransactionNotFoundException',
      message: expect.stringMatching(/aborted due to an error from a previous call/) as string,
    });
    expect(server.openTransactions()).toBe(0);
    await expect(raw({ sql: `SELECT 1 ${' '.repeat(70_000)}` })).rejects.toMatchObject({ name: 'BadRequestException' });

    // The adapter: calls it is given together go one at a time; a failed call rolls back cleanly; a long statement is refused before sending.
    await sql.query('CREATE TABLE par (n int)');
    await sql.transaction((tx) =>
      Promise.all([1, 2, 3, 4].map((n) => tx.query('INSERT INTO par SELECT $1::int FROM pg_sleep(0.05)', [n]))),
    );
    expect((await sql.query('SELECT count(*)::int AS n FROM par')).rows).toEqual([{ n: 4 }]);
    await expect(sql.transaction((tx) => tx.query('INSERT INTO par VALUES ($1::int)', ['x']))).rejects.toBeInstanceOf(
      QueryError,
    );
    expect(server.openTransactions()).toBe(0);
    const calls = server.calls['/Execute'] ?? 0;
    await expect(sql.query(`SELECT 1 ${' '.repeat(70_000)}`)).rejects.toThrow(DataApiLimitError);
    expect(server.calls['/Execute'] ?? 0).toBe(calls);
  });

  it.each(['DatabaseErrorException', 'BadRequestException'] as const)(
    'reports SQL errors (%s) as typed errors without parameter values',
    async (sqlErrorType) => {
      await start({ sqlErrorType });
      await sql.query('CREATE TABLE u (id int PRIMARY KEY, secret text)');
      await sql.query('INSERT INTO u VALUES ($1, $2)', [1, 'sk-live-secret-value']);
      const duplicate = (await sql
        .query('INSERT INTO u VALUES ($1, $2)', [1, 'sk-live-secret-value'])
        .catch((e: unknown) => e)) as UniqueViolationError;
      expect(duplicate).toBeInstanceOf(UniqueViolationError);
      expect(duplicate.sqlState).toBe('23505');
      expect(duplicate.message).toMatch(/duplicate key value violates unique constraint "u_pkey"/);
      expect(duplicate.message).not.toContain('sk-live-secret-value');
      expect(duplicate.message).not.toMatch(/Key \(id\)=\(1\)/);
      // PostgreSQL quotes the bad input in a data exception's first line: hidden too.
      const badInput = (await sql
        .query('SELECT $1::int AS n', ['sk-live-secret-value'])
        .catch((e: unknown) => e)) as QueryError;
      expect(badInput).toBeInstanceOf(QueryError);
      expect(badInput.sqlState).toBe('22P02');
      expect(badInput.message).toMatch(/invalid input syntax for type integer/);
      expect(badInput.message).not.toContain('sk-live-secret-value');
    },
  );

  it('types string parameters as varchar, as the service does: comparing one with a bigint needs a cast', async () => {
    await sql.query('CREATE TABLE k (id bigint PRIMARY KEY)');
    await sql.query('INSERT INTO k VALUES ($1)', [7]);
    const err = (await sql.query('SELECT id FROM k WHERE id = $1', ['7']).catch((e: unknown) => e)) as QueryError;
    expect(err).toBeInstanceOf(QueryError);
    expect(err.message).toMatch(/operator does not exist: bigint = character varying/);
    expect((await sql.query('SELECT id FROM k WHERE id = $1::bigint', ['7'])).rows).toEqual([{ id: '7' }]);
  });

  it('retries a resuming cluster and throttling through the real SDK, and not a statement timeout', async () => {
    server.failNext('/Execute', 'DatabaseResumingException', {
      times: 2,
      message: 'The Aurora DB instance db-1 is resuming after being auto-paused.',
    });
    server.failNext('/BeginTransaction', 'ThrottlingException', { times: 1 });
    await expect(sql.transaction((tx) => tx.query<{ n: number }>('SELECT 1 AS n'))).resolves.toEqual({
      rows: [{ n: 1 }],
      rowCount: 1,
    });
    expect(server.calls['/BeginTransaction']).toBe(2);
    expect(server.calls['/Execute']).toBe(3);

    server.failNext('/Execute', 'StatementTimeoutException');
    await expect(sql.query('SELECT 1')).rejects.toThrow(/timeout/);
    expect(server.calls['/Execute']).toBe(4);
  });

  it('rolls back a transaction left idle, after which its id is refused', async () => {
    await start({ transactionIdleMs: 50 });
    await sql.query('CREATE TABLE idle (n int)');
    const err = await sql
      .transaction(async (tx) => {
        await tx.query('INSERT INTO idle VALUES (1)');
        while (server.openTransactions() > 0) await new Promise((r) => setTimeout(r, 20));
        await tx.query('INSERT INTO idle VALUES (2)');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataApiTransactionError);
    expect((await sql.query('SELECT n FROM idle')).rowCount).toBe(0);
  });

  it('answers formatRecordsAs JSON with formattedRecords', async () => {
    const out = await client.send(
      new ExecuteStatementCommand({
        ...ARNS,
        sql: "SELECT 1 AS n, 'x' AS s, NULL::text AS z, true AS ok",
        formatRecordsAs: 'JSON',
      }),
    );
    expect(out.records).toBeUndefined();
    expect(JSON.parse(out.formattedRecords!)).toEqual([{ n: 1, s: 'x', z: null, ok: true }]);
  });

  it('runs the migrations and whole jobs through the Data API: bigint, uuid and text ids, text and bytea envelopes', async () => {
    await migrate(sql);
    expect((await schemaStatus(sql)).pending).toEqual([]);
    await sql.query('CREATE TABLE secrets (id bigint PRIMARY KEY, v text)');
    await sql.query('CREATE TABLE uu (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v text)');
    await sql.query('CREATE TABLE tx (name text PRIMARY KEY, v bytea)');
    const v1 = { id: 'kek-v1', key: randomBytes(32) };
    const v2 = { id: 'kek-v2', key: randomBytes(32) };
    const old = await EnvelopeCipher.create({ keyring: new RawKeyring([v1]) });
    const ids = Array.from({ length: 300 }, (_, i) => String(i + 1));
    const values = await Promise.all(
      ids.map((id) => old.encrypt(`s-${id}`, { table: 'secrets', column: 'v', rowId: id })),
    );
    await sql.query('INSERT INTO secrets SELECT * FROM unnest($1::bigint[], $2::text[])', [ids, values]);
    const uuids = (
      await sql.query<{ id: string }>(
        'INSERT INTO uu (v) SELECT NULL FROM generate_series(1, 60) RETURNING id::text AS id',
      )
    ).rows.map((r) => r.id);
    for (const id of uuids)
      await sql.query('UPDATE uu SET v = $2 WHERE id = $1::uuid', [
        id,
        await old.encrypt(`u-${id}`, { table: 'uu', column: 'v', rowId: id }),
      ]);
    const names = Array.from({ length: 60 }, (_, i) => `name-${String.fromCharCode(65 + (i % 26))}${i}`);
    const blobs = await Promise.all(
      names.map((n) => old.encrypt(Buffer.from(`t-${n}`), { table: 'tx', column: 'v', rowId: n })),
    );
    await sql.query('INSERT INTO tx SELECT * FROM unnest($1::text[], $2::bytea[])', [names, blobs]);
    // A key id column: the planner counts and cuts batches by SQL (in slices and pages under the service's limits).
    await sql.query('CREATE TABLE tagged (id bigint PRIMARY KEY, v text, key_id text)');
    const tagged = await Promise.all(
      ids.slice(0, 150).map((id) => old.encrypt(`k-${id}`, { table: 'tagged', column: 'v', rowId: id })),
    );
    await sql.query("INSERT INTO tagged SELECT id, v, 'kek-v1' FROM unnest($1::bigint[], $2::text[]) AS u(id, v)", [
      ids.slice(0, 150),
      tagged,
    ]);

    const registry = parseRegistry({
      tables: [
        { name: 'secrets', idColumn: 'id', columns: ['v'] },
        { name: 'uu', idColumn: 'id', columns: ['v'] },
        { name: 'tx', idColumn: 'name', columns: ['v'] },
        { name: 'tagged', idColumn: 'id', columns: ['v'], keyIdColumn: 'key_id' },
      ],
    });
    const runtime = await createEngineRuntime({
      sql,
      keyring: new RawKeyring([v2, v1]),
      registry,
      actor: 'data-api-test',
    });
    const rewrap = await startJob(runtime.deps, {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 100,
      requestedBy: 'test',
    });
    expect(rewrap.job.status).toBe('completed');
    expect(rewrap.plan?.find((p) => p.table === 'tagged')).toEqual({
      table: 'tagged',
      rowsTotal: 150,
      rowsPending: 150,
      batches: 2,
    });
    expect(new Set((await sql.query<{ v: string }>('SELECT v FROM secrets')).rows.map((r) => peekKeyId(r.v)))).toEqual(
      new Set(['kek-v2']),
    );
    expect(
      (await sql.query<{ key_id: string; n: string }>('SELECT key_id, count(*)::text AS n FROM tagged GROUP BY 1'))
        .rows,
    ).toEqual([{ key_id: 'kek-v2', n: '150' }]);
    const reencrypt = await startJob(
      runtime.deps,
      { mode: 'reencrypt', targetKeyId: 'kek-v2', batchSize: 25, requestedBy: 'test' },
      { concurrency: 2 },
    );
    expect(reencrypt.job.status).toBe('completed');
    const report = await verify(runtime.deps, { targetKeyId: 'kek-v2', decrypt: true });
    expect(report.ok).toBe(true);
    expect(report.tables.map((t) => [t.table, t.rows, t.decrypt?.checked])).toEqual([
      ['secrets', 300, 300],
      ['uu', 60, 60],
      ['tx', 60, 60],
      ['tagged', 150, 150],
    ]);
    expect(server.openTransactions()).toBe(0);
  });

  describe('the engine within the service limits (1 MiB per result, 4 MiB per request)', () => {
    const v1 = { id: 'kek-v1', key: randomBytes(32) };
    const v2 = { id: 'kek-v2', key: randomBytes(32) };
    const v3 = { id: 'kek-v3', key: randomBytes(32) };
    const ROWS = 2500;

    /** 2,500 rows of ~1 KiB envelopes: a default batch (2,000 rows) holds about 2.5 MiB of them. */
    const seedWide = async (): Promise<void> => {
      await migrate(sql);
      await sql.query('CREATE TABLE wide (id bigint PRIMARY KEY, v text)');
      const old = await EnvelopeCipher.create({ keyring: new RawKeyring([v1]) });
      const ids = Array.from({ length: ROWS }, (_, i) => String(i + 1));
      const values = await Promise.all(
        ids.map((id) => old.encrypt(`${id}:${'s'.repeat(700)}`, { table: 'wide', column: 'v', rowId: id })),
      );
      for (let i = 0; i < ROWS; i += 500) {
        await sql.query('INSERT INTO wide SELECT * FROM unnest($1::bigint[], $2::text[])', [
          ids.slice(i, i + 500),
          values.slice(i, i + 500),
        ]);
      }
    };
    const runtimeFor = (primary = v2) =>
      createEngineRuntime({
        sql,
        keyring: new RawKeyring(primary === v3 ? [v3, v2, v1] : [v2, v1]),
        registry: parseRegistry({ tables: [{ name: 'wide', idColumn: 'id', columns: ['v'] }] }),
        actor: 'data-api-test',
      });
    const keyIds = async (): Promise<Set<string>> => {
      const keys = new Set<string>();
      for (let lo = 0; lo < ROWS; lo += 100) {
        for (const r of (
          await sql.query<{ v: string }>('SELECT v FROM wide WHERE id > $1::bigint AND id <= $2::bigint', [
            String(lo),
            String(lo + 100),
          ])
        ).rows)
          keys.add(peekKeyId(r.v));
      }
      return keys;
    };

    it("pages reads and chunks writes by the rows' bytes, so a default batch of wide values completes", async () => {
      await seedWide();
      // The data is wide enough to matter: one batch's rows in one result pass the limit.
      await expect(sql.query('SELECT id::text, v FROM wide WHERE id <= 2000 ORDER BY id')).rejects.toBeInstanceOf(
        ResultTooLargeError,
      );
      const refusedBefore = server.refusals.response;

      const runtime = await runtimeFor();
      const rewrap = await startJob(runtime.deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'test' });
      expect(rewrap.job.batchSize).toBe(2000);
      expect([rewrap.job.status, rewrap.job.counters.rowsDone, rewrap.job.counters.rowsFailed]).toEqual([
        'completed',
        ROWS,
        0,
      ]);
      expect(await keyIds()).toEqual(new Set(['kek-v2']));
      // A full re-encryption (fresh data keys) on to the next key.
      const next = await runtimeFor(v3);
      const reencrypt = await startJob(next.deps, { mode: 'reencrypt', targetKeyId: 'kek-v3', requestedBy: 'test' });
      expect([reencrypt.job.status, reencrypt.job.counters.rowsDone]).toEqual(['completed', ROWS]);
      expect(await keyIds()).toEqual(new Set(['kek-v3']));
      const report = await verify(next.deps, { targetKeyId: 'kek-v3', decrypt: true });
      expect([report.ok, report.tables[0]!.rows, report.tables[0]!.decrypt?.checked]).toEqual([true, ROWS, ROWS]);

      // Sized in advance: nothing was refused, and no response or request came near a limit.
      expect(server.refusals).toEqual({ request: 0, response: refusedBefore, row: 0 });
      expect(server.largestResponse()).toBeLessThanOrEqual(1024 * 1024);
      expect(server.openTransactions()).toBe(0);
    });

    it('reads again in smaller pages when the service refuses a result the estimate thought would fit', async () => {
      // The adapter believes the documented 1 MiB; this endpoint allows 200 KiB.
      await start({ maxResponseBytes: 200 * 1024 });
      await seedWide();
      const runtime = await runtimeFor();
      const job = await startJob(runtime.deps, { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'test' });
      expect([job.job.status, job.job.counters.rowsDone, job.job.counters.rowsFailed]).toEqual(['completed', ROWS, 0]);
      expect(server.refusals.response).toBeGreaterThan(0);
      expect(server.largestResponse()).toBeLessThanOrEqual(200 * 1024);
      expect(await keyIds()).toEqual(new Set(['kek-v2']));
      const report = await verify(runtime.deps, { targetKeyId: 'kek-v2', decrypt: true });
      expect([report.ok, report.tables[0]!.decrypt?.checked]).toEqual([true, ROWS]);
    });
  });
});
