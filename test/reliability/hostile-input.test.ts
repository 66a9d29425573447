import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { parseEnvelope, peekKeyId, serializeEnvelope, toText } from '../../functions/core/crypto/envelope';
import { fernetEncrypt, FernetReader } from '../../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt, JsonKeyIdReader } from '../../functions/core/crypto/legacy/json-key-id';
import { StaticKeyPolicy } from '../../functions/core/crypto/key-policy';
import { valueCryptoFrom } from '../../functions/core/reencrypt/values/crypto-bridge';
import { startJob } from '../../functions/core/reencrypt/jobs/job-runner';
import { listBatches } from '../../functions/core/reencrypt/store/batches-table';
import { listRowErrors } from '../../functions/core/reencrypt/store/row-errors-table';
import type { Mode } from '../../functions/core/reencrypt/values/modes';
import type { StoredValue } from '../../functions/core/reencrypt/ports';
import { parseRegistry } from '../../functions/core/reencrypt/config/registry';
import { migratedDatabase, type TestDatabase } from '../support/database';
import {
  ctxOf,
  engine,
  oldCipher,
  plaintextOf,
  rotationWorld,
  seedSecrets,
  type World,
} from '../integration/reencrypt/support/fixtures';
import { recordFigure } from './support/figures';

/**
 * Hostile input through the real engine on the real PostgreSQL: every kind of
 * damaged, forged or misplaced value the issue lists is planted among good
 * rows; each must be recorded in rekey_row_errors with a reason, keep its
 * stored bytes, and leave its batch (and the job) going on.
 */

let db: TestDatabase;
let world: World;

beforeAll(async () => {
  db = await migratedDatabase({ poolSize: 4 });
});
afterAll(async () => {
  await db.drop();
});

type Column = 'token' | 'blob';

interface Variant {
  /** The kind of the list this variant belongs to. */
  readonly kind: string;
  readonly variant: string;
  readonly column: Column;
  /** Which job reads it: reencrypt reads every byte of an envelope; migrate reads legacy values. */
  readonly mode: Extract<Mode, 'reencrypt' | 'migrate'>;
  /** The codes that name what is wrong (the first one expected; the others tolerated where the damage can land in two places). */
  readonly codes: readonly string[];
  /** Builds the hostile value for row `id` (org = tenant of the row). */
  make(id: number, org: string): Promise<StoredValue>;
}

const TABLE = { reencrypt: 'hostile_envelopes', migrate: 'hostile_legacy' } as const;
const ROWS = 60;
const orgOf = (id: number): string => `org-${id % 3}`;

/** The stored value of a row's column. */
async function stored(table: string, column: Column, id: number): Promise<StoredValue | null> {
  const { rows } = await db.sql.query<Record<Column, StoredValue | null>>(
    `SELECT ${column} FROM ${table} WHERE id = $1`,
    [id],
  );
  return rows[0]![column];
}

describe('hostile input', () => {
  it('every kind is detected, recorded with a reason, kept unchanged, and its batch goes on', async () => {
    world = await rotationWorld(db.sql, { tenantKeys: [{ id: 'kek-v0', tenant: 'org-x' }] });
    await db.sql.query(`DROP TABLE IF EXISTS ${TABLE.reencrypt}, ${TABLE.migrate}`);
    // kek-v0: a key that encrypted once and was then crypto-shredded.
    const v0 = new EnvelopeCipher({ keyring: world.keyring, policy: StaticKeyPolicy.fromKeyIds('kek-v0', []) });
    const old = oldCipher(world);
    const big = new EnvelopeCipher({
      keyring: world.keyring,
      policy: StaticKeyPolicy.fromKeyIds('kek-v1', []),
      maxPlaintextBytes: 8 * 1024 * 1024,
    });
    const fernetKey = randomBytes(32).toString('base64url');
    const legacyKeks: Record<string, Buffer> = { 'kek-v0': randomBytes(32), 'kek-v1': randomBytes(32) };

    const env = async (id: number, column: Column, org = orgOf(id)): Promise<StoredValue> => {
      const value = await stored(TABLE.reencrypt, column, id);
      if (value !== null) return value;
      return old.encrypt(
        column === 'blob' ? Buffer.from(plaintextOf(id, column)) : plaintextOf(id, column),
        ctxOf(TABLE.reencrypt, column, id, org),
      );
    };
    const reshape = (
      value: StoredValue,
      change: (e: ReturnType<typeof parseEnvelope>) => ReturnType<typeof parseEnvelope>,
    ): StoredValue => {
      const out = serializeEnvelope(change(parseEnvelope(value)));
      return typeof value === 'string' ? toText(out) : out;
    };
    const flipLast = (b: Uint8Array): Buffer => {
      const c = Buffer.from(b);
      c[c.length - 1]! ^= 0x01;
      return c;
    };
    const jsonPayload = (fields: Record<string, unknown>): string =>
      JSON.stringify({
        version: 1,
        alg: 'AES-256-GCM',
        key_id: 'kek-v1',
        dek_wrapped: 'AAAA',
        nonce: 'AAAAAAAAAAAAAAAA',
        ciphertext: 'AAAA',
        ...fields,
      });

    const variants: Variant[] = [
      {
        kind: 'tampered tag',
        variant: 'last tag byte flipped',
        column: 'token',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: async (id) => reshape(await env(id, 'token'), (e) => ({ ...e, sealed: flipLast(e.sealed) })),
      },
      {
        kind: 'tampered tag',
        variant: 'bytea, last tag byte flipped',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: async (id) => reshape(await env(id, 'blob'), (e) => ({ ...e, sealed: flipLast(e.sealed) })),
      },
      {
        kind: 'tampered header',
        variant: 'wrapped data key bit flipped',
        column: 'token',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: async (id) => reshape(await env(id, 'token'), (e) => ({ ...e, wrappedKey: flipLast(e.wrappedKey) })),
      },
      {
        kind: 'tampered header',
        variant: 'bytea, key id length byte changed',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: async (id) => {
          const b = Buffer.from((await env(id, 'blob')) as Buffer);
          b[1] = b[1]! + 3;
          return b;
        },
      },
      {
        kind: 'truncated value',
        variant: 'text, last 3 characters cut',
        column: 'token',
        mode: 'reencrypt',
        // The shorter text is still canonical base64url for about 1 value in 4
        // (the random envelope's last character decides): then its header parses
        // and the cut ciphertext fails authentication instead. Both detect it.
        codes: ['ENVELOPE_FORMAT', 'AUTHENTICATION_FAILED'],
        make: async (id) => ((await env(id, 'token')) as string).slice(0, -3),
      },
      {
        kind: 'truncated value',
        variant: 'text, cut to 40 characters',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: async (id) => ((await env(id, 'token')) as string).slice(0, 40),
      },
      {
        kind: 'truncated value',
        variant: 'bytea, cut in the header',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: async (id) => ((await env(id, 'blob')) as Buffer).subarray(0, 20),
      },
      {
        kind: 'truncated value',
        variant: 'bytea, 20 bytes cut',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT', 'AUTHENTICATION_FAILED'],
        make: async (id) => ((await env(id, 'blob')) as Buffer).subarray(0, -20),
      },
      {
        kind: 'wrong version byte',
        variant: 'bytea, version 2',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['ENVELOPE_VERSION'],
        make: async (id) => Buffer.concat([Buffer.from([2]), ((await env(id, 'blob')) as Buffer).subarray(1)]),
      },
      {
        kind: 'wrong version byte',
        variant: 'text, rk1: holding version 2',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_VERSION'],
        make: async (id) =>
          `rk1:${Buffer.concat([Buffer.from([2]), parseEnvelopeBytes(await env(id, 'token')).subarray(1)]).toString('base64url')}`,
      },
      {
        kind: 'wrong version byte',
        variant: 'text, rk2: prefix',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_VERSION'],
        make: async (id) => `rk2:${((await env(id, 'token')) as string).slice(4)}`,
      },
      {
        kind: 'unknown key id',
        variant: 'key id kek-v9',
        column: 'token',
        mode: 'reencrypt',
        codes: ['UNKNOWN_KEY'],
        make: async (id) => reshape(await env(id, 'token'), (e) => ({ ...e, keyId: 'kek-v9' })),
      },
      {
        kind: 'destroyed key',
        variant: 'encrypted under kek-v0, since destroyed',
        column: 'token',
        mode: 'reencrypt',
        codes: ['KEY_DESTROYED'],
        make: (id, org) => v0.encrypt(plaintextOf(id, 'token'), ctxOf(TABLE.reencrypt, 'token', id, org)),
      },
      {
        kind: 'swapped between rows',
        variant: "row 1's token",
        column: 'token',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: () => env(1, 'token'),
      },
      {
        kind: 'swapped between columns',
        variant: "the row's blob, as text",
        column: 'token',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: async (id) => toText(Buffer.from((await env(id, 'blob', orgOf(id))) as Buffer)),
      },
      {
        kind: 'swapped between tenants',
        variant: 'same table, row and column of tenant org-x',
        column: 'token',
        mode: 'reencrypt',
        codes: ['AUTHENTICATION_FAILED'],
        make: (id) => old.encrypt(plaintextOf(id, 'token'), ctxOf(TABLE.reencrypt, 'token', id, 'org-x')),
      },
      {
        kind: 'non-base64',
        variant: 'rk1: followed by non-base64url',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: async (id) => `rk1:${'!*'.repeat(20)}${((await env(id, 'token')) as string).slice(44)}`,
      },
      {
        kind: 'non-base64',
        variant: 'standard base64 with padding',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: async (id) => `rk1:${parseEnvelopeBytes(await env(id, 'token')).toString('base64')}==`,
      },
      {
        kind: 'empty',
        variant: "''",
        column: 'token',
        mode: 'reencrypt',
        codes: ['UNEXPECTED_PLAINTEXT'],
        make: () => Promise.resolve(''),
      },
      {
        kind: 'empty',
        variant: 'rk1: with no body',
        column: 'token',
        mode: 'reencrypt',
        codes: ['ENVELOPE_FORMAT'],
        make: () => Promise.resolve('rk1:'),
      },
      {
        kind: 'empty',
        variant: 'bytea of length 0',
        column: 'blob',
        mode: 'reencrypt',
        codes: ['UNEXPECTED_PLAINTEXT'],
        make: () => Promise.resolve(Buffer.alloc(0)),
      },
      {
        kind: 'oversized',
        variant: 'a 5 MiB value (limit 4 MiB)',
        column: 'token',
        mode: 'reencrypt',
        codes: ['VALUE_TOO_LARGE'],
        make: (id, org) =>
          big.encrypt(
            randomBytes(5 * 1024 * 1024)
              .toString('base64')
              .slice(0, 5 * 1024 * 1024),
            ctxOf(TABLE.reencrypt, 'token', id, org),
          ),
      },
      {
        kind: 'Fernet token under an unknown key',
        variant: 'key nobody configured',
        column: 'token',
        mode: 'migrate',
        codes: ['AUTHENTICATION_FAILED'],
        make: (id) => Promise.resolve(fernetEncrypt(randomBytes(32).toString('base64url'), plaintextOf(id, 'token'))),
      },
      {
        kind: 'Fernet token with a bad HMAC',
        variant: 'last HMAC byte flipped',
        column: 'token',
        mode: 'migrate',
        codes: ['AUTHENTICATION_FAILED'],
        make: (id) => {
          const raw = flipLast(Buffer.from(fernetEncrypt(fernetKey, plaintextOf(id, 'token')), 'base64url'));
          const text = raw.toString('base64url');
          return Promise.resolve(text + '='.repeat((4 - (text.length % 4)) % 4));
        },
      },
      {
        kind: 'malformed JSON key_id envelope',
        variant: 'dek_wrapped not base64',
        column: 'token',
        mode: 'migrate',
        codes: ['LEGACY_FORMAT'],
        make: () => Promise.resolve(jsonPayload({ dek_wrapped: '%%%not base64%%%' })),
      },
      {
        kind: 'malformed JSON key_id envelope',
        variant: 'unknown version',
        column: 'token',
        mode: 'migrate',
        codes: ['LEGACY_FORMAT'],
        make: () => Promise.resolve(jsonPayload({ version: 7 })),
      },
      {
        kind: 'malformed JSON key_id envelope',
        variant: 'cut in the middle',
        column: 'token',
        mode: 'migrate',
        codes: ['LEGACY_FORMAT'],
        make: (id) =>
          Promise.resolve(jsonKeyIdEncrypt(legacyKeks['kek-v1']!, 'kek-v1', plaintextOf(id, 'token')).slice(0, 90)),
      },
      {
        kind: 'malformed JSON key_id envelope',
        variant: 'ciphertext altered',
        column: 'token',
        mode: 'migrate',
        codes: ['AUTHENTICATION_FAILED'],
        make: (id) =>
          Promise.resolve(
            alterJsonCiphertext(jsonKeyIdEncrypt(legacyKeks['kek-v1']!, 'kek-v1', plaintextOf(id, 'token'))),
          ),
      },
      {
        kind: 'unknown key id',
        variant: 'JSON key_id kek-v9',
        column: 'token',
        mode: 'migrate',
        codes: ['UNKNOWN_KEY'],
        make: (id) => Promise.resolve(jsonKeyIdEncrypt(randomBytes(32), 'kek-v9', plaintextOf(id, 'token'))),
      },
      {
        kind: 'destroyed key',
        variant: 'JSON key_id kek-v0, since destroyed',
        column: 'token',
        mode: 'migrate',
        codes: ['KEY_DESTROYED'],
        make: (id) => Promise.resolve(jsonKeyIdEncrypt(legacyKeks['kek-v0']!, 'kek-v0', plaintextOf(id, 'token'))),
      },
    ];

    // Good rows: envelopes under kek-v1 in both tables, plus Fernet and JSON key_id values the migrate job can read.
    await seedSecrets(db.sql, world, ROWS, TABLE.reencrypt);
    await seedSecrets(db.sql, world, ROWS, TABLE.migrate);
    for (let id = 2; id <= ROWS; id += 4) {
      const legacy =
        id % 8 === 2
          ? fernetEncrypt(fernetKey, plaintextOf(id, 'token'))
          : jsonKeyIdEncrypt(legacyKeks['kek-v1']!, 'kek-v1', plaintextOf(id, 'token'));
      await db.sql.query(`UPDATE ${TABLE.migrate} SET token = $2 WHERE id = $1`, [id, legacy]);
    }

    // Each variant takes its own row, spread over the batches (batch size 10); its other column is NULL so the row's error is its own.
    const planted = new Map<Variant, { id: number; value: StoredValue }>();
    const nextId = { reencrypt: 3, migrate: 3 };
    for (const v of variants) {
      const id = nextId[v.mode];
      nextId[v.mode] += 2;
      const value = await v.make(id, orgOf(id));
      const other: Column = v.column === 'token' ? 'blob' : 'token';
      await db.sql.query(`UPDATE ${TABLE[v.mode]} SET ${v.column} = $2, ${other} = NULL WHERE id = $1`, [id, value]);
      planted.set(v, { id, value });
    }
    expect(Math.max(nextId.reencrypt, nextId.migrate)).toBeLessThanOrEqual(ROWS);
    await world.catalog.transition('kek-v0', 'rotating', 'test');
    await world.catalog.transition('kek-v0', 'retired', 'test');
    await world.catalog.transition('kek-v0', 'destroyed', 'test', { reason: 'hostile-input test: crypto-shredded' });
    await world.refreshKeys();

    const readers = [FernetReader.fromKeys([fernetKey]), new JsonKeyIdReader((keyId) => legacyKeks[keyId])];
    const crypto = valueCryptoFrom({ cipher: world.cipher, legacyReaders: readers });
    const outcomes = new Map<Mode, Awaited<ReturnType<typeof startJob>>>();
    for (const mode of ['reencrypt', 'migrate'] as const) {
      const registry = parseRegistry({
        tables: [{ name: TABLE[mode], idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' }],
      });
      // maxErrorRate 1: the job must not abort, so every batch is seen to go on past its hostile rows.
      const outcome = await startJob(engine(db, world, registry, { crypto }), {
        mode,
        targetKeyId: 'kek-v2',
        batchSize: 10,
        maxErrorRate: 1,
        requestedBy: 'hostile-input test',
      });
      outcomes.set(mode, outcome);
    }

    // Per variant: a row error with the expected code and a message free of the value, and the stored value byte for byte.
    const detected: string[] = [];
    const kept: string[] = [];
    const problems: string[] = [];
    for (const [v, { id, value }] of planted) {
      const errors = (await listRowErrors(db.sql, outcomes.get(v.mode)!.job.id)).filter(
        (e) => e.rowId === String(id) && e.column === v.column,
      );
      const label = `${v.kind} (${v.variant}, row ${id})`;
      if (errors.length === 1 && v.codes.includes(errors[0]!.code)) detected.push(label);
      else
        problems.push(
          `${label}: recorded ${JSON.stringify(errors.map((e) => [e.code, e.message]))}, expected ${v.codes.join(' or ')}`,
        );
      const message = errors[0]?.message ?? '';
      if (
        message.includes(plaintextOf(id, v.column)) ||
        (typeof value === 'string' && value.length > 8 && message.includes(value.slice(4, 40)))
      ) {
        problems.push(`${label}: the reason quotes the value`);
      }
      if (/run the encrypt mode/.test(message) && v.codes[0] !== 'UNEXPECTED_PLAINTEXT')
        problems.push(`${label}: the reason calls a damaged ciphertext plaintext: ${message}`);
      const after = await stored(TABLE[v.mode], v.column, id);
      if (after !== null && Buffer.from(after as Uint8Array | string).equals(Buffer.from(value as Uint8Array | string)))
        kept.push(label);
      else problems.push(`${label}: the stored value changed`);
    }

    // Every other row went on: on kek-v2, decrypting to what was planted.
    let goodRows = 0;
    let goodMoved = 0;
    const hostileIds = new Map<string, Set<string>>([...planted].map(([v, p]) => [`${v.mode}:${p.id}`, new Set()]));
    for (const mode of ['reencrypt', 'migrate'] as const) {
      const { job } = outcomes.get(mode)!;
      expect(job.status).toBe('completed_with_errors');
      const batches = await listBatches(db.sql, job.id);
      expect(batches.every((b) => b.status === 'done')).toBe(true);
      const hostileHere = [...planted].filter(([v]) => v.mode === mode).length;
      expect(job.counters.rowsFailed).toBe(hostileHere);
      const { rows } = await db.sql.query<{ id: string; org: string; token: string | null; blob: Buffer | null }>(
        `SELECT id::text AS id, org, token, blob FROM ${TABLE[mode]} ORDER BY id`,
      );
      for (const r of rows) {
        if (hostileIds.has(`${mode}:${r.id}`)) continue;
        goodRows++;
        let ok = true;
        for (const column of ['token', 'blob'] as const) {
          const value = r[column];
          if (value === null) continue;
          if (peekKeyId(value) !== 'kek-v2') ok = false;
          else if (
            (await world.cipher.decrypt(value, ctxOf(TABLE[mode], column, r.id, r.org))).toString() !==
            plaintextOf(r.id, column)
          )
            ok = false;
        }
        if (ok) goodMoved++;
      }
    }
    expect(await world.status('kek-v1')).toBe('rotating'); // the hostile rows still name kek-v1 or nothing readable: nothing retired over them

    const kinds = new Set(variants.map((v) => v.kind));
    const kindsDetected = new Set(
      variants.filter((v) => detected.some((d) => d.startsWith(`${v.kind} (${v.variant},`))).map((v) => v.kind),
    );
    const allOfKind = [...kinds].filter((k) =>
      variants.filter((v) => v.kind === k).every((v) => detected.some((d) => d.startsWith(`${v.kind} (${v.variant},`))),
    );
    recordFigure({
      area: 'Hostile input',
      figure: 'kinds detected / kinds tried (every variant of the kind)',
      value: `${allOfKind.length} / ${kinds.size}`,
      goal: 'all',
    });
    recordFigure({
      area: 'Hostile input',
      figure: 'variants detected with the right code / variants tried',
      value: `${detected.length} / ${variants.length}`,
      goal: 'all',
    });
    recordFigure({
      area: 'Hostile input',
      figure: 'hostile values kept byte for byte',
      value: `${kept.length} / ${variants.length}`,
      goal: 'all',
    });
    recordFigure({
      area: 'Hostile input',
      figure: 'good rows moved and decrypting (batches went on)',
      value: `${goodMoved} / ${goodRows}`,
      goal: 'all',
    });
    expect(problems).toEqual([]);
    expect(kindsDetected.size).toBe(kinds.size);
    expect(kinds.size).toBe(15);
    expect(goodMoved).toBe(goodRows);
  });
});

describe('encrypt mode (it encrypts plaintext in place)', () => {
  it('never wraps a damaged envelope as if it were plaintext: the row is recorded and kept', async () => {
    world = await rotationWorld(db.sql);
    await db.sql.query('DROP TABLE IF EXISTS hostile_plain');
    await db.sql.query('CREATE TABLE hostile_plain (id bigint PRIMARY KEY, token text)');
    const good = await oldCipher(world).encrypt('an envelope', ctxOf('hostile_plain', 'token', 1));
    const damaged = [`${good.slice(0, 40)}`, `rk2:${good.slice(4)}`, `rk1:${'!*'.repeat(30)}`];
    const values = ['plain secret one', ...damaged, 'plain secret two'];
    for (const [i, v] of values.entries()) await db.sql.query('INSERT INTO hostile_plain VALUES ($1, $2)', [i + 1, v]);
    const registry = parseRegistry({ tables: [{ name: 'hostile_plain', idColumn: 'id', columns: ['token'] }] });
    const outcome = await startJob(engine(db, world, registry), {
      mode: 'encrypt',
      targetKeyId: 'kek-v2',
      batchSize: 10,
      maxErrorRate: 1,
      requestedBy: 'hostile-input test',
    });
    expect(outcome.job.counters).toMatchObject({ rowsDone: 2, rowsFailed: 3 });
    const errors = await listRowErrors(db.sql, outcome.job.id);
    expect(errors.map((e) => [e.rowId, e.code])).toEqual([
      ['2', 'ENVELOPE_FORMAT'],
      ['3', 'ENVELOPE_VERSION'],
      ['4', 'ENVELOPE_FORMAT'],
    ]);
    const { rows } = await db.sql.query<{ id: string; token: string }>(
      'SELECT id::text AS id, token FROM hostile_plain ORDER BY id',
    );
    expect(rows.slice(1, 4).map((r) => r.token)).toEqual(damaged);
    for (const r of [rows[0]!, rows[4]!])
      expect((await world.cipher.decrypt(r.token, ctxOf('hostile_plain', 'token', r.id))).toString()).toMatch(
        /^plain secret/,
      );
  });
});

function parseEnvelopeBytes(value: StoredValue): Buffer {
  return serializeEnvelope(parseEnvelope(value));
}

/** A JSON key_id value whose ciphertext has its last byte flipped (the GCM tag no longer verifies). */
function alterJsonCiphertext(json: string): string {
  const payload = JSON.parse(json) as Record<string, string>;
  const ct = Buffer.from(payload['ciphertext']!, 'base64');
  ct[ct.length - 1]! ^= 0x01;
  return JSON.stringify({ ...payload, ciphertext: ct.toString('base64') });
}
