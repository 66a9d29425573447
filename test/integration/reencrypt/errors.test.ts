import { parseEnvelope, serializeEnvelope, toText } from '../../../functions/core/crypto/envelope';
import { RegistryError } from '../../../functions/core/reencrypt/errors';
import { runJob, startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { listBatches, listRowErrors } from '../../../functions/core/reencrypt/store/job-store';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { checkAgainstDatabase, MIN_TEXT_ENVELOPE_CHARS } from '../../../functions/core/reencrypt/sql/table-shape';
import type { Sql } from '../../../functions/core/ports/sql';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { engine, plaintextOf, readSecrets, rotationWorld, seedSecrets, type World } from './support/fixtures';

let db: TestDatabase;
let world: World;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 8 });
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  world = await rotationWorld(db.sql);
  await db.sql.query('DROP TABLE IF EXISTS secrets, shapes');
});

/** Flips one bit of the wrapped data key of row `id`'s token: the data key no longer authenticates. */
async function tamperWrappedKey(sql: Sql, id: number): Promise<void> {
  const { rows } = await sql.query<{ token: string }>('SELECT token FROM secrets WHERE id = $1', [id]);
  const env = parseEnvelope(rows[0]!.token);
  const wrapped = Buffer.from(env.wrappedKey);
  wrapped[5]! ^= 0x40;
  await sql.query('UPDATE secrets SET token = $2 WHERE id = $1', [
    id,
    toText(serializeEnvelope({ ...env, wrappedKey: wrapped })),
  ]);
}

/** Flips one bit of the ciphertext of row `id`'s blob: rewrap cannot tell, decrypt and reencrypt can. */
async function tamperCiphertext(sql: Sql, id: number): Promise<void> {
  const { rows } = await sql.query<{ blob: Buffer }>('SELECT blob FROM secrets WHERE id = $1', [id]);
  const env = parseEnvelope(rows[0]!.blob);
  const sealed = Buffer.from(env.sealed);
  sealed[0]! ^= 0x01;
  await sql.query('UPDATE secrets SET blob = $2 WHERE id = $1', [id, serializeEnvelope({ ...env, sealed })]);
}

describe('row errors', () => {
  it('a tampered row is recorded as an error while the rest complete, and the old key is not retired', async () => {
    await seedSecrets(db.sql, world, 500);
    await tamperWrappedKey(db.sql, 123);
    const outcome = await startJob(engine(db, world), {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      batchSize: 100,
      requestedBy: 'test',
    });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 499, rowsFailed: 1, batchesDone: 5 });
    expect(outcome.job.error).toMatch(
      /1 row\(s\) failed[\s\S]*key kek-v1 still holds 1 value\(s\) and was not retired/,
    );
    const errors = await listRowErrors(db.sql, outcome.job.id);
    expect(errors).toEqual([
      {
        table: 'secrets',
        rowId: '123',
        column: 'token',
        code: 'AUTHENTICATION_FAILED',
        message: expect.any(String),
        at: expect.any(Date),
      },
    ]);
    expect(errors[0]!.message).not.toContain(plaintextOf(123, 'token'));
    expect(await world.status('kek-v1')).toBe('rotating');
    expect(outcome.retire).toEqual({ retired: [], kept: [{ keyId: 'kek-v1', values: 1 }] });
    expect(outcome.verify?.tables[0]).toMatchObject({
      rows: 500,
      rowsNotOnTarget: 1,
      values: { envelopes: { 'kek-v1': 1, 'kek-v2': 949 } },
    });
    // Row 123's other column moved; every other row is fully on kek-v2 and still decrypts.
    const rows = await readSecrets(db.sql, world, 'secrets', 'id <> 123');
    expect(rows.size).toBe(499);
    for (const r of rows.values()) expect(r.tokenKey).toBe('kek-v2');
  });

  it('reencrypt mode catches a tampered ciphertext that rewrap cannot see; verify --decrypt counts it', async () => {
    await seedSecrets(db.sql, world, 50);
    await tamperCiphertext(db.sql, 9);
    const outcome = await startJob(
      engine(db, world),
      { mode: 'reencrypt', targetKeyId: 'kek-v2', batchSize: 20, requestedBy: 'test', maxErrorRate: 0.5 },
      { verifyDecrypt: true },
    );
    expect(outcome.job.status).toBe('completed_with_errors');
    expect((await listRowErrors(db.sql, outcome.job.id)).map((e) => [e.rowId, e.column, e.code])).toEqual([
      ['9', 'blob', 'AUTHENTICATION_FAILED'],
    ]);
    expect(outcome.verify?.decryptFailures).toBe(1);
    expect(outcome.verify?.tables[0]?.decrypt).toEqual({
      checked: 95,
      failed: 1,
      byCode: { AUTHENTICATION_FAILED: 1 },
      failedRowIds: ['9'],
    });
  });

  it('aborts when failed rows pass the maximum error rate and leaves the remaining batches unrun', async () => {
    await seedSecrets(db.sql, world, 3000);
    for (let id = 20; id <= 3000; id += 20) await tamperWrappedKey(db.sql, id); // 5 % of the rows
    const outcome = await startJob(
      engine(db, world),
      { mode: 'rewrap', targetKeyId: 'kek-v2', batchSize: 100, requestedBy: 'test' },
      { concurrency: 1 },
    );
    expect(outcome.job.status).toBe('aborted');
    expect(outcome.job.error).toMatch(/above the maximum error rate of 1 %/);
    expect(outcome.job.counters.rowsDone + outcome.job.counters.rowsFailed).toBe(1000); // judged at the 1,000-row minimum sample
    const batches = await listBatches(db.sql, outcome.job.id);
    expect(batches.filter((b) => b.status === 'done')).toHaveLength(10);
    expect(batches.filter((b) => b.status === 'pending')).toHaveLength(20);
    expect(await world.status('kek-v1')).toBe('rotating');
    expect(await world.actions()).toContain('job.aborted');
    // An aborted job stays aborted: resuming it runs nothing.
    const resumed = await runJob(engine(db, world), outcome.job.id);
    expect(resumed.job.status).toBe('aborted');
    expect(resumed.job.counters).toEqual(outcome.job.counters);
  });
});

describe('registry against the database', () => {
  it('names every mismatch at once', async () => {
    await db.sql.query(
      'CREATE TABLE shapes (id numeric PRIMARY KEY, good text, num integer, key_id integer, h text, tiny varchar(64))',
    );
    await db.sql.query('CREATE TABLE secrets (id bigint, token text)'); // no unique index on id
    const registry = parseRegistry({
      tables: [
        {
          name: 'shapes',
          idColumn: 'id',
          columns: ['good', 'num', 'missing', 'tiny'],
          keyIdColumn: 'key_id',
          blindIndex: { good: 'nohash' },
        },
        { name: 'secrets', idColumn: 'id', columns: ['token'] },
        { name: 'nowhere', idColumn: 'id', columns: ['x'] },
      ],
    });
    const err = await checkAgainstDatabase(db.sql, registry).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'tables[0].idColumn: shapes.id is numeric; the id column must be smallint, integer, bigint, uuid, text or varchar',
      'tables[0].columns[1]: encrypted column shapes.num is int4; it must be text, varchar or bytea',
      'tables[0].columns[2]: column shapes.missing does not exist',
      `tables[0].columns[3]: shapes.tiny is varchar(64); the shortest envelope is ${MIN_TEXT_ENVELOPE_CHARS} characters (about 4/3 × the value's bytes + ${MIN_TEXT_ENVELOPE_CHARS} with a raw key, more with KMS): use text or bytea`,
      'tables[0].blindIndex.good: column shapes.nohash does not exist',
      'tables[0].keyIdColumn: shapes.key_id is int4; the key id column must be text or varchar',
      'tables[1].idColumn: secrets.id has no unique index of its own; keyset batches need a unique id',
      'tables[2].name: table "nowhere" does not exist',
    ]);
  });
});

describe('a value that does not fit its varchar(n)', () => {
  afterEach(async () => {
    await db.sql.query('DROP TABLE IF EXISTS contacts');
  });

  it('is a recorded row error; the row keeps its plaintext source and the batch goes on', async () => {
    await db.sql.query('CREATE TABLE contacts (id bigint PRIMARY KEY, email text, email_encrypted varchar(200))');
    // An envelope is about 4/3 × the value + 128 characters: 40 bytes fit in 200, 120 do not.
    const emails = Array.from({ length: 30 }, (_, i) =>
      i === 17 ? `${'x'.repeat(108)}@example.com` : `user${i}@example.com`,
    );
    await db.sql.query(
      'INSERT INTO contacts (id, email) SELECT i, e FROM unnest($1::bigint[], $2::text[]) AS t(i, e)',
      [emails.map((_, i) => String(i + 1)), emails],
    );
    const registry = parseRegistry({
      tables: [
        { name: 'contacts', idColumn: 'id', encrypt: { email: { target: 'email_encrypted', clearSource: true } } },
      ],
    });
    const outcome = await startJob(engine(db, world, registry), {
      mode: 'encrypt',
      targetKeyId: 'kek-v2',
      batchSize: 10,
      maxErrorRate: 0.5,
      requestedBy: 'test',
    });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 29, rowsFailed: 1, batchesDone: 3 });
    const errors = await listRowErrors(db.sql, outcome.job.id);
    expect(errors.map((e) => [e.rowId, e.column, e.code])).toEqual([['18', 'email_encrypted', 'VALUE_TOO_LONG']]);
    expect(errors[0]!.message).toMatch(
      /^contacts\.email_encrypted is varchar\(200\); the new value needs \d+ characters: widen the column/,
    );
    expect(errors[0]!.message).not.toContain('example.com');
    const row = await db.sql.query<{ email: string | null; email_encrypted: string | null }>(
      'SELECT email, email_encrypted FROM contacts WHERE id = 18',
    );
    expect(row.rows[0]).toEqual({ email: emails[17], email_encrypted: null }); // the source was not cleared: nothing lost
    const moved = await db.sql.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM contacts WHERE email IS NULL AND email_encrypted IS NOT NULL',
    );
    expect(moved.rows[0]!.n).toBe('29');
  });
});
