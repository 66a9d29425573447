import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlindIndex } from '../../../functions/core/crypto/blind-index';
import { peekKeyId } from '../../../functions/core/crypto/envelope';
import { FernetReader, fernetEncrypt } from '../../../functions/core/crypto/legacy/fernet';
import { JsonKeyIdReader } from '../../../functions/core/crypto/legacy/json-key-id';
import { blindIndexerFrom, valueCryptoFrom } from '../../../functions/core/reencrypt/values/crypto-bridge';
import { startJob } from '../../../functions/core/reencrypt/jobs/job-runner';
import { listRowErrors } from '../../../functions/core/reencrypt/store/job-store';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { verify } from '../../../functions/core/reencrypt/verify/verify';
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

const bidx = new BlindIndex([{ id: 'bidx-v1', key: randomBytes(32) }]);
const hmac = (plaintext: string, table: string, column: string): string => bidx.index(plaintext, { table, column });
const indexer = blindIndexerFrom(bidx);

describe('encrypt mode', () => {
  it('moves plaintext emails into envelopes with a blind index, clears the plaintext column; the next rotation recomputes the index', async () => {
    await db.sql.query(
      'CREATE TABLE users (id bigint PRIMARY KEY, email text, email_encrypted text, email_hash text, note text)',
    );
    for (let id = 1; id <= 300; id++) {
      await db.sql.query('INSERT INTO users VALUES ($1, $2, NULL, NULL, $3)', [
        id,
        id % 10 === 0 ? null : `user${id}@example.com`,
        id % 3 === 0 ? `note ${id}` : null,
      ]);
    }
    const registry = parseRegistry({
      tables: [
        {
          name: 'users',
          idColumn: 'id',
          columns: ['note'],
          encrypt: { email: { target: 'email_encrypted', blindIndex: 'email_hash', clearSource: true } },
        },
      ],
    });
    const deps = engine(db, world, registry, { blindIndex: indexer });

    const before = await tableDigest(db.sql, 'users');
    const dry = await startJob(deps, { mode: 'encrypt', targetKeyId: 'kek-v2', dryRun: true, requestedBy: 'test' });
    // 270 rows with an email, plus the note-only rows among the 30 without one (ids 30, 60, ..., 300).
    expect(dry.dryRunReport).toEqual([
      'DRY RUN: users: Would encrypt 280 of 300 records',
      'DRY RUN: Would encrypt 280 of 300 records',
    ]);
    expect(await tableDigest(db.sql, 'users')).toBe(before);

    const outcome = await startJob(deps, {
      mode: 'encrypt',
      targetKeyId: 'kek-v2',
      batchSize: 64,
      requestedBy: 'test',
    });
    expect(outcome.job.status).toBe('completed');
    expect(outcome.job.counters).toMatchObject({ rowsDone: 280, rowsFailed: 0 });
    const { rows } = await db.sql.query<{
      id: string;
      email: string | null;
      email_encrypted: string | null;
      email_hash: string | null;
      note: string | null;
    }>('SELECT id::text AS id, email, email_encrypted, email_hash, note FROM users ORDER BY id');
    for (const r of rows) {
      const id = Number(r.id);
      expect(r.email).toBeNull();
      if (id % 10 === 0) expect(r).toMatchObject({ email_encrypted: null, email_hash: null });
      else {
        expect(peekKeyId(r.email_encrypted!)).toBe('kek-v2');
        expect((await world.cipher.decrypt(r.email_encrypted!, ctxOf('users', 'email_encrypted', id))).toString()).toBe(
          `user${id}@example.com`,
        );
        expect(r.email_hash).toBe(hmac(`user${id}@example.com`, 'users', 'email_encrypted'));
      }
      if (id % 3 === 0)
        expect((await world.cipher.decrypt(r.note!, ctxOf('users', 'note', id))).toString()).toBe(`note ${id}`);
      else expect(r.note).toBeNull();
    }
    // The blind index finds a row by its email without decrypting anything.
    const found = await db.sql.query<{ id: string }>('SELECT id::text AS id FROM users WHERE email_hash = $1', [
      hmac('user42@example.com', 'users', 'email_encrypted'),
    ]);
    expect(found.rows).toEqual([{ id: '42' }]);
    expect((await verify(deps, { targetKeyId: 'kek-v2', decrypt: true })).ok).toBe(true);

    // The next key rotation also rotates the blind index key: each moved row gets its index recomputed.
    const bidx2 = new BlindIndex([
      { id: 'bidx-v2', key: randomBytes(32) },
      { id: 'bidx-v1', key: Buffer.alloc(32, 1) },
    ]);
    await world.catalog.activate('kek-v1', 'test'); // kek-v1 (rotating) active again; kek-v2 rotating
    await world.refreshKeys();
    const rotated = await startJob(engine(db, world, registry, { blindIndex: blindIndexerFrom(bidx2) }), {
      mode: 'rewrap',
      targetKeyId: 'kek-v1',
      requestedBy: 'test',
    });
    expect(rotated.job).toMatchObject({ status: 'completed', counters: { rowsDone: 280 } });
    const after = await db.sql.query<{ id: string; email_hash: string | null }>(
      'SELECT id::text AS id, email_hash FROM users WHERE email_hash IS NOT NULL ORDER BY id',
    );
    expect(after.rows).toHaveLength(270);
    for (const r of after.rows)
      expect(r.email_hash).toBe(bidx2.index(`user${r.id}@example.com`, { table: 'users', column: 'email_encrypted' }));
  });

  it('rewrap mode refuses plaintext as an error instead of encrypting it', async () => {
    await db.sql.query('CREATE TABLE notes (id integer PRIMARY KEY, body text)');
    await db.sql.query(`INSERT INTO notes VALUES (1, 'plain'), (2, $1)`, [
      await world.cipher.encrypt('x', ctxOf('notes', 'body', 2)),
    ]);
    const registry = parseRegistry({ tables: [{ name: 'notes', idColumn: 'id', columns: ['body'] }] });
    const outcome = await startJob(engine(db, world, registry), {
      mode: 'rewrap',
      targetKeyId: 'kek-v2',
      requestedBy: 'test',
      maxErrorRate: 1,
    });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect((await listRowErrors(db.sql, outcome.job.id)).map((e) => [e.rowId, e.code])).toEqual([
      ['1', 'UNEXPECTED_PLAINTEXT'],
    ]);
    const { rows } = await db.sql.query<{ body: string }>('SELECT body FROM notes WHERE id = 1');
    expect(rows[0]!.body).toBe('plain');
  });
});

describe('migrate mode', () => {
  /** Fernet tokens and JSON key_id values made by Python's cryptography (test/vectors/legacy), plus more of each made here. */
  interface Vectors {
    fernet: { keys: Record<string, string>; tokens: { plaintext_hex: string; key: string; token: string }[] };
    json_key_id: { keks: Record<string, string>; values: { plaintext_hex: string; value: string }[] };
  }
  const vectors = JSON.parse(
    readFileSync(join(__dirname, '../../vectors/legacy/legacy-vectors.json'), 'utf8'),
  ) as Vectors;
  const kek = (id: string): Buffer | undefined => {
    const entry = vectors.json_key_id.keks[id];
    return entry ? Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64') : undefined;
  };
  /** A JSON key_id value in the runbook tool's layout: DEK wrapped by the KEK, value sealed by the DEK, AES-256-GCM both. */
  const jsonValue = (plaintext: string, keyId: string): string => {
    const seal = (key: Buffer, data: Buffer): { nonce: Buffer; out: Buffer } => {
      const nonce = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, nonce);
      return { nonce, out: Buffer.concat([c.update(data), c.final(), c.getAuthTag()]) };
    };
    const dek = randomBytes(32);
    const wrapped = seal(kek(keyId)!, dek);
    const sealed = seal(dek, Buffer.from(plaintext));
    return JSON.stringify({
      version: 1,
      alg: 'AES-256-GCM',
      key_id: keyId,
      dek_wrapped: Buffer.concat([wrapped.nonce, wrapped.out]).toString('base64'),
      nonce: sealed.nonce.toString('base64'),
      ciphertext: sealed.out.toString('base64'),
    });
  };

  it('converts Fernet and JSON key_id values to envelopes, rewraps old envelopes, and records unreadable ones', async () => {
    await db.sql.query('CREATE TABLE providers (id integer PRIMARY KEY, api_key text)');
    const old = oldCipher(world);
    const expected = new Map<number, string>();
    let id = 0;
    const put = async (value: string, plaintext: string): Promise<void> => {
      await db.sql.query('INSERT INTO providers VALUES ($1, $2)', [++id, value]);
      expected.set(id, plaintext);
    };
    for (const t of vectors.fernet.tokens) await put(t.token, Buffer.from(t.plaintext_hex, 'hex').toString('utf8'));
    for (const v of vectors.json_key_id.values)
      await put(v.value, Buffer.from(v.plaintext_hex, 'hex').toString('utf8'));
    for (let i = 0; i < 20; i++) await put(fernetEncrypt(vectors.fernet.keys['old']!, `fernet-${i}`), `fernet-${i}`);
    for (let i = 0; i < 20; i++) await put(jsonValue(`json-${i}`, 'kek-v2'), `json-${i}`);
    for (let i = 0; i < 10; i++)
      await put(await old.encrypt(`env-${i}`, ctxOf('providers', 'api_key', id + 1)), `env-${i}`);
    const foreign = ++id; // a Fernet token under a key nobody has
    await db.sql.query('INSERT INTO providers VALUES ($1, $2)', [
      foreign,
      fernetEncrypt(randomBytes(32).toString('base64url'), 'lost secret'),
    ]);

    const registry = parseRegistry({ tables: [{ name: 'providers', idColumn: 'id', columns: ['api_key'] }] });
    const readers = [
      FernetReader.fromKeys([vectors.fernet.keys['new']!, vectors.fernet.keys['old']!]),
      new JsonKeyIdReader(kek),
    ];
    const deps = engine(db, world, registry, {
      crypto: valueCryptoFrom({ cipher: world.cipher, legacyReaders: readers }),
    });
    const before = await verify(deps, { targetKeyId: 'kek-v2' });
    const vectorKeys = vectors.json_key_id.values.map((v) => (JSON.parse(v.value) as { key_id: string }).key_id);
    const onV1 = vectorKeys.filter((k) => k === 'kek-v1').length;
    expect(before.tables[0]!.values).toMatchObject({
      fernet: vectors.fernet.tokens.length + 21,
      jsonKeyId: { 'kek-v1': onV1, 'kek-v2': vectorKeys.length - onV1 + 20 },
      envelopes: { 'kek-v1': 10 },
    });

    const outcome = await startJob(deps, {
      mode: 'migrate',
      targetKeyId: 'kek-v2',
      batchSize: 16,
      requestedBy: 'test',
      maxErrorRate: 0.05,
    });
    expect(outcome.job.status).toBe('completed_with_errors');
    expect(outcome.job.counters).toMatchObject({ rowsDone: id - 1, rowsFailed: 1 });
    const errors = await listRowErrors(db.sql, outcome.job.id);
    expect(errors.map((e) => [e.rowId, e.column])).toEqual([[String(foreign), 'api_key']]);
    expect(errors[0]!.message).not.toContain('lost secret');
    const { rows } = await db.sql.query<{ id: number; api_key: string }>(
      'SELECT id, api_key FROM providers WHERE id <> $1 ORDER BY id',
      [foreign],
    );
    expect(rows).toHaveLength(id - 1);
    for (const r of rows) {
      expect(peekKeyId(r.api_key)).toBe('kek-v2');
      expect((await world.cipher.decrypt(r.api_key, ctxOf('providers', 'api_key', r.id))).toString('utf8')).toBe(
        expected.get(r.id),
      );
    }
    // kek-v1 keeps nothing: its envelopes were rewrapped and the JSON values it named were migrated.
    expect(await world.status('kek-v1')).toBe('retired');
  });
});
