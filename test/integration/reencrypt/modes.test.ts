import { createHmac, randomBytes } from 'node:crypto';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import type { LegacyReader } from '../../../functions/core/crypto/legacy/reader';
import { LegacyFormatError } from '../../../functions/core/crypto/errors';
import { valueCryptoFrom } from '../../../functions/core/reencrypt/crypto-bridge';
import { startJob } from '../../../functions/core/reencrypt/job-runner';
import { listRowErrors } from '../../../functions/core/reencrypt/job-store';
import type { BlindIndexer } from '../../../functions/core/reencrypt/ports';
import { parseRegistry } from '../../../functions/core/reencrypt/registry';
import { verify } from '../../../functions/core/reencrypt/verify';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { ctxOf, engine, oldCipher, rotationWorld, tableDigest, type World } from './support/fixtures';

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
});

/** HMAC-SHA256 blind index under a test key, hex, bound to table and column. */
const indexKey = randomBytes(32);
const hmac = (plaintext: Buffer | string, table: string, column: string): string =>
  createHmac('sha256', indexKey).update(`${table}.${column}\u0000`).update(plaintext).digest('hex');
const indexer: BlindIndexer = { index: (plaintext, where) => hmac(plaintext, where.table, where.column) };

describe('encrypt mode', () => {
  it('moves plaintext emails into envelopes with a blind index and clears the plaintext column', async () => {
    await db.sql.query('CREATE TABLE users (id bigint PRIMARY KEY, email text, email_encrypted text, email_hash text, note text)');
    for (let id = 1; id <= 300; id++) {
      await db.sql.query('INSERT INTO users VALUES ($1, $2, NULL, NULL, $3)', [id, id % 10 === 0 ? null : `user${id}@example.com`, id % 3 === 0 ? `note ${id}` : null]);
    }
    const registry = parseRegistry({
      tables: [{ name: 'users', idColumn: 'id', columns: ['note'], encrypt: { email: { target: 'email_encrypted', blindIndex: 'email_hash', clearSource: true } } }],
    });
    const deps = engine(db, world, registry, { blindIndex: indexer });

    const before = await tableDigest(db.sql, 'users');
    const dry = await startJob(deps, { mode: 'encrypt', targetKeyId: 'kek-v2', dryRun: true, requestedBy: 'test' });
    // 270 rows with an email, plus the note-only rows among the 30 without one (ids 30, 60, ..., 300).
    expect(dry.dryRunReport).toEqual(['DRY RUN: users: Would encrypt 280 of 300 records', 'DRY RUN: Would encrypt 280 of 300 records']);
    expect(await tableDigest(db.sql, 'users')).toBe(before);

    const outcome = await startJob(deps, { mode: 'encrypt', targetKeyId: 'kek-v2', batchSize: 64, requestedBy: 'test' });
    expect(outcome.job.status).toBe('completed');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 280, rowsFailed: 0 });
    const { rows } = await db.sql.query<{ id: string; email: string | null; email_encrypted: string | null; email_hash: string | null; note: string | null }>(
      'SELECT id::text AS id, email, email_encrypted, email_hash, note FROM users ORDER BY id',
    );
    for (const r of rows) {
      const id = Number(r.id);
      expect(r.email).toBeNull();
      if (id % 10 === 0) expect(r).toMatchObject({ email_encrypted: null, email_hash: null });
      else {
        expect(peekKeyId(r.email_encrypted!)).toBe('kek-v2');
        expect((await world.cipher.decrypt(r.email_encrypted!, ctxOf('users', 'email_encrypted', id))).toString()).toBe(`user${id}@example.com`);
        expect(r.email_hash).toBe(hmac(`user${id}@example.com`, 'users', 'email_encrypted'));
      }
      if (id % 3 === 0) expect((await world.cipher.decrypt(r.note!, ctxOf('users', 'note', id))).toString()).toBe(`note ${id}`);
      else expect(r.note).toBeNull();
    }
    // The blind index finds a row by its email without decrypting anything.
    const found = await db.sql.query<{ id: string }>('SELECT id::text AS id FROM users WHERE email_hash = $1', [hmac('user42@example.com', 'users', 'email_encrypted')]);
    expect(found.rows).toEqual([{ id: '42' }]);
    expect((await verify(deps, { targetKeyId: 'kek-v2', decrypt: true })).ok).toBe(true);
  });

  it('rewrap mode refuses plaintext as an error instead of encrypting it', async () => {
    await db.sql.query('CREATE TABLE notes (id integer PRIMARY KEY, body text)');
    await db.sql.query(`INSERT INTO notes VALUES (1, 'plain'), (2, $1)`, [await world.cipher.encrypt('x', ctxOf('notes', 'body', 2))]);
    const registry = parseRegistry({ tables: [{ name: 'notes', idColumn: 'id', columns: ['body'] }] });
    const outcome = await startJob(engine(db, world, registry), { mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 'test', maxErrorRate: 1 });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect((await listRowErrors(db.sql, outcome.job.id)).map((e) => [e.rowId, e.code])).toEqual([['1', 'UNEXPECTED_PLAINTEXT']]);
    const { rows } = await db.sql.query<{ body: string }>('SELECT body FROM notes WHERE id = 1');
    expect(rows[0]!.body).toBe('plain');
  });
});

describe('migrate mode', () => {
  /** A JSON `{"key_id", "data"}` legacy envelope: data is base64 of the plaintext XOR a per-key byte (enough to need the key). */
  const legacyKeys: Record<string, number> = { 'legacy-1': 0x5a, 'legacy-2': 0x33 };
  const jsonLegacy: LegacyReader = {
    format: 'json-key-id',
    recognizes: (v) => typeof v === 'string' && v.startsWith('{') && v.includes('"key_id"'),
    keyIdOf: (v) => (JSON.parse(String(v)) as { key_id?: string }).key_id,
    decrypt: async (v) => {
      const { key_id: keyId, data } = JSON.parse(String(v)) as { key_id: string; data: string };
      const k = legacyKeys[keyId];
      if (k === undefined) throw new LegacyFormatError(`unknown legacy key id ${JSON.stringify(keyId)}`);
      return Buffer.from(Buffer.from(data, 'base64').map((b) => b ^ k));
    },
  };
  const legacy = (plain: string, keyId: string): string =>
    JSON.stringify({ key_id: keyId, data: Buffer.from(Buffer.from(plain).map((b) => b ^ (legacyKeys[keyId] ?? 0))).toString('base64') });

  it('converts JSON key_id values to envelopes, rewraps old envelopes, and records unreadable ones', async () => {
    await db.sql.query('CREATE TABLE providers (id integer PRIMARY KEY, api_key text)');
    const old = oldCipher(world);
    for (let id = 1; id <= 60; id++) {
      const value =
        id === 13 ? legacy('lost', 'legacy-9') : id % 3 === 0 ? await old.encrypt(`key-${id}`, ctxOf('providers', 'api_key', id)) : legacy(`key-${id}`, id % 2 ? 'legacy-1' : 'legacy-2');
      await db.sql.query('INSERT INTO providers VALUES ($1, $2)', [id, value]);
    }
    const registry = parseRegistry({ tables: [{ name: 'providers', idColumn: 'id', columns: ['api_key'] }] });
    const deps = engine(db, world, registry, { crypto: valueCryptoFrom({ cipher: world.cipher, legacyReaders: [jsonLegacy] }) });
    const before = await verify(deps, { targetKeyId: 'kek-v2' });
    expect(before.tables[0]!.values).toMatchObject({ envelopes: { 'kek-v1': 20 }, jsonKeyId: { 'legacy-1': 19, 'legacy-2': 20, 'legacy-9': 1 } });

    const outcome = await startJob(deps, { mode: 'migrate', targetKeyId: 'kek-v2', batchSize: 16, requestedBy: 'test', maxErrorRate: 0.05 });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 59, rowsFailed: 1 });
    expect((await listRowErrors(db.sql, outcome.job.id)).map((e) => [e.rowId, e.code, e.message])).toEqual([
      ['13', 'LEGACY_FORMAT', 'unknown legacy key id "legacy-9"'],
    ]);
    const { rows } = await db.sql.query<{ id: number; api_key: string }>('SELECT id, api_key FROM providers WHERE id <> 13 ORDER BY id');
    for (const r of rows) {
      expect(peekKeyId(r.api_key)).toBe('kek-v2');
      expect((await world.cipher.decrypt(r.api_key, ctxOf('providers', 'api_key', r.id))).toString()).toBe(`key-${r.id}`);
    }
    expect(await world.status('kek-v1')).toBe('retired'); // no envelope left under it; the legacy row is not under kek-v1
  });
});
