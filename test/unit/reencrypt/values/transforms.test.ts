import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { parseEnvelope, peekKeyId, serializeEnvelope, toText } from '../../../../functions/core/crypto/envelope';
import { KeyringUnavailableError, LegacyFormatError } from '../../../../functions/core/crypto/errors';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import type { LegacyReader } from '../../../../functions/core/crypto/legacy/reader';
import { StaticKeyPolicy } from '../../../../functions/core/keys/policy';
import { classifyStoredValue, valueCryptoFrom } from '../../../../functions/core/reencrypt/values/crypto-bridge';
import { columnSets, type Mode } from '../../../../functions/core/reencrypt/values/modes';
import type { ValueCrypto } from '../../../../functions/core/reencrypt/ports';
import { parseRegistry, type RegistryTable } from '../../../../functions/core/reencrypt/config/registry';
import type { TableShape } from '../../../../functions/core/reencrypt/sql/table-shape';
import {
  mapLimit,
  rowNeedsWork,
  transformRow,
  type RowValues,
} from '../../../../functions/core/reencrypt/values/transforms';

/** A JSON `{"key_id","data"}` legacy format, for these tests only: data is base64 of the plaintext. */
const jsonReader: LegacyReader = {
  format: 'json-key-id',
  recognizes: (v) => typeof v === 'string' && v.startsWith('{"key_id"'),
  keyIdOf: (v) => (JSON.parse(String(v)) as { key_id: string }).key_id,
  decrypt: async (v) => {
    const parsed = JSON.parse(String(v)) as { key_id: string; data: string };
    if (parsed.data === '!') throw new LegacyFormatError('the JSON envelope data is not valid');
    return Buffer.from(parsed.data, 'base64');
  },
};

const keyring = new RawKeyring(
  [
    { id: 'kek-v2', key: randomBytes(32) },
    { id: 'kek-v1', key: randomBytes(32) },
    { id: 'kek-v0', key: randomBytes(32) },
  ],
  'kek-v2',
);
const policy = new StaticKeyPolicy([
  { id: 'kek-v2', status: 'active' },
  { id: 'kek-v1', status: 'rotating' },
  { id: 'kek-v0', status: 'destroyed' },
]);
const cipher = new EnvelopeCipher({ keyring, policy });
const crypto = valueCryptoFrom({ cipher, legacyReaders: [jsonReader] });
const v1Cipher = new EnvelopeCipher({
  keyring,
  policy: new StaticKeyPolicy([
    { id: 'kek-v1', status: 'active' },
    { id: 'kek-v0', status: 'active' },
  ]),
});

const registry = parseRegistry({
  tables: [
    {
      name: 'secrets',
      idColumn: 'id',
      columns: ['token', 'blob'],
      keyIdColumn: 'key_id',
      tenantColumn: 'org',
      blindIndex: { token: 'token_hash' },
    },
    {
      name: 'users',
      idColumn: 'id',
      columns: [],
      encrypt: { email: { target: 'email_enc', blindIndex: 'email_hash', clearSource: true } },
    },
  ],
});
const secrets = registry.tables[0]!;
const users = registry.tables[1]!;
const secretsShape: TableShape = {
  idType: 'bigint',
  forms: { token: 'text', blob: 'binary', key_id: 'text', token_hash: 'text' },
};
const usersShape: TableShape = { idType: 'bigint', forms: { email_enc: 'text', email_hash: 'text', email: 'text' } };
const hasher = {
  index: (p: Buffer, where: { table: string; column: string }) =>
    `h:${where.table}.${where.column}:${p.toString('hex')}`,
};

function ctxFor(table: RegistryTable, shape: TableShape, mode: Mode, c: ValueCrypto = crypto) {
  return { table, shape, sets: columnSets(table, mode), mode, targetKeyId: 'kek-v2', crypto: c, blindIndex: hasher };
}
const at = (column: string, rowId = '1', table = 'secrets') => ({ table, column, rowId, tenant: 'acme' });

describe('row transforms', () => {
  it('rewraps envelopes under other keys, keeps the storage form, and sets the key id column', async () => {
    const token = await v1Cipher.encrypt('tok-1', at('token'), { keyId: 'kek-v1' });
    const blob = await v1Cipher.encrypt(Buffer.from('blob-1'), at('blob'), { keyId: 'kek-v1' });
    const row: RowValues = { id: '1', tenant: 'acme', values: { token, blob, key_id: 'kek-v1' } };
    const ctx = ctxFor(secrets, secretsShape, 'rewrap');
    expect(rowNeedsWork(row, ctx)).toBe(true);
    const plan = await transformRow(row, ctx);
    expect(plan.outcome).toBe('changed');
    expect(typeof plan.next['token']).toBe('string');
    expect(Buffer.isBuffer(plan.next['blob'])).toBe(true);
    expect(peekKeyId(plan.next['token']!)).toBe('kek-v2');
    expect(peekKeyId(plan.next['blob']!)).toBe('kek-v2');
    expect(plan.next['key_id']).toBe('kek-v2');
    expect((await cipher.decrypt(plan.next['token']!, at('token'))).toString()).toBe('tok-1');
    // rewrap keeps the ciphertext: only the key id and wrapped key change
    expect(parseEnvelope(plan.next['blob']!).sealed.equals(parseEnvelope(blob).sealed)).toBe(true);
    // no blind indexer that can tell a stale index: the index column is carried over untouched
    expect(plan.next['token_hash']).toBeNull();
  });

  it('recomputes a missing or stale blind index while rewrapping, and leaves a current one alone', async () => {
    const indexer = {
      index: (p: Buffer, where: { table: string; column: string }) => `bidx-v2:${where.column}:${p.toString()}`,
      isCurrent: (stored: string | Buffer) => String(stored).startsWith('bidx-v2:'),
    };
    const ctx = { ...ctxFor(secrets, secretsShape, 'rewrap'), blindIndex: indexer };
    const token = await v1Cipher.encrypt('tok-9', at('token', '9'), { keyId: 'kek-v1' });
    for (const [stored, want] of [
      [null, 'bidx-v2:token:tok-9'],
      ['bidx-v1:old', 'bidx-v2:token:tok-9'],
      ['bidx-v2:current', 'bidx-v2:current'],
    ] as const) {
      const plan = await transformRow(
        { id: '9', tenant: 'acme', values: { token, blob: null, key_id: null, token_hash: stored } },
        ctx,
      );
      expect(plan.outcome).toBe('changed');
      expect(plan.next['token_hash']).toBe(want);
    }
  });

  it('reencrypt mode changes every byte after the header', async () => {
    const token = await v1Cipher.encrypt('tok', at('token'), { keyId: 'kek-v1' });
    const plan = await transformRow(
      { id: '1', tenant: 'acme', values: { token, blob: null, key_id: null } },
      ctxFor(secrets, secretsShape, 'reencrypt'),
    );
    expect(plan.outcome).toBe('changed');
    expect(parseEnvelope(plan.next['token']!).sealed.equals(parseEnvelope(token).sealed)).toBe(false);
    expect((await cipher.decrypt(plan.next['token']!, at('token'))).toString()).toBe('tok');
  });

  it('skips a row already on the target key and treats NULL as done', async () => {
    const token = await cipher.encrypt('x', at('token'));
    const row: RowValues = { id: '1', tenant: 'acme', values: { token, blob: null, key_id: 'kek-v2' } };
    const ctx = ctxFor(secrets, secretsShape, 'rewrap');
    expect(rowNeedsWork(row, ctx)).toBe(false);
    const plan = await transformRow(row, ctx);
    expect(plan).toMatchObject({ outcome: 'skipped', changed: false, errors: [] });
  });

  it('records tampered, destroyed-key and plaintext columns as errors with codes, and still moves the good column', async () => {
    const good = await v1Cipher.encrypt(Buffer.from('ok'), at('blob'), { keyId: 'kek-v1' });
    const env = parseEnvelope(await v1Cipher.encrypt('secret-value', at('token'), { keyId: 'kek-v1' }));
    const wrapped = Buffer.from(env.wrappedKey);
    wrapped[wrapped.length - 1]! ^= 0x01;
    const tampered = toText(serializeEnvelope({ ...env, wrappedKey: wrapped }));
    const plan = await transformRow(
      { id: '1', tenant: 'acme', values: { token: tampered, blob: good, key_id: 'kek-v1' } },
      ctxFor(secrets, secretsShape, 'rewrap'),
    );
    expect(plan.outcome).toBe('failed');
    expect(plan.errors).toEqual([{ column: 'token', code: 'AUTHENTICATION_FAILED', message: expect.any(String) }]);
    expect(peekKeyId(plan.next['blob']!)).toBe('kek-v2');
    expect(plan.next['key_id']).toBe('kek-v1'); // not every column is on the target: the key id column stays
    expect(plan.changed).toBe(true);

    const destroyed = await v1Cipher.encrypt('d', at('token'), { keyId: 'kek-v0' });
    const p2 = await transformRow(
      { id: '1', tenant: 'acme', values: { token: destroyed, blob: 'plain text!', key_id: null } },
      ctxFor(secrets, secretsShape, 'rewrap'),
    );
    expect(p2.errors.map((e) => `${e.column}:${e.code}`)).toEqual(['token:KEY_DESTROYED', 'blob:UNEXPECTED_PLAINTEXT']);
    for (const e of [...plan.errors, ...p2.errors]) {
      expect(e.message).not.toContain('secret-value');
      expect(e.message).not.toContain('plain text!');
    }
  });

  it('rethrows retryable errors so the whole batch is retried, and withholds messages of foreign errors', async () => {
    const token = await v1Cipher.encrypt('t', at('token'), { keyId: 'kek-v1' });
    const row: RowValues = { id: '1', tenant: 'acme', values: { token, blob: null, key_id: null } };
    const flaky: ValueCrypto = { ...crypto, rewrap: () => Promise.reject(new KeyringUnavailableError('throttled')) };
    await expect(transformRow(row, ctxFor(secrets, secretsShape, 'rewrap', flaky))).rejects.toBeInstanceOf(
      KeyringUnavailableError,
    );
    const leaky: ValueCrypto = { ...crypto, rewrap: () => Promise.reject(new Error('bad value: hunter2')) };
    const plan = await transformRow(row, ctxFor(secrets, secretsShape, 'rewrap', leaky));
    expect(plan.errors[0]).toEqual({
      column: 'token',
      code: 'UNEXPECTED_ERROR',
      message: expect.not.stringContaining('hunter2'),
    });
  });

  it('migrate mode turns legacy values into envelopes (with the blind index); other modes refuse them', async () => {
    const legacy = JSON.stringify({ key_id: 'old-1', data: Buffer.from('legacy secret').toString('base64') });
    const row: RowValues = {
      id: '7',
      tenant: 'acme',
      values: { token: legacy, blob: null, key_id: null, token_hash: null },
    };
    expect(classifyStoredValue(legacy, [jsonReader])).toEqual({ kind: 'json-key-id', keyId: 'old-1' });
    const plan = await transformRow(row, ctxFor(secrets, secretsShape, 'migrate'));
    expect(plan.outcome).toBe('changed');
    expect((await cipher.decrypt(plan.next['token']!, at('token', '7'))).toString()).toBe('legacy secret');
    expect(plan.next['token_hash']).toBe(`h:secrets.token:${Buffer.from('legacy secret').toString('hex')}`);
    const refused = await transformRow(row, ctxFor(secrets, secretsShape, 'rewrap'));
    expect(refused.errors).toEqual([
      { column: 'token', code: 'LEGACY_VALUE', message: expect.stringMatching(/migrate mode/) },
    ]);
    const broken = await transformRow(
      { ...row, values: { ...row.values, token: JSON.stringify({ key_id: 'old-1', data: '!' }) } },
      ctxFor(secrets, secretsShape, 'migrate'),
    );
    expect(broken.errors[0]!.code).toBe('LEGACY_FORMAT');
  });

  it('encrypt mode moves a plaintext source into its target with a blind index and clears the source', async () => {
    const ctx = ctxFor(users, usersShape, 'encrypt');
    const row: RowValues = {
      id: '3',
      tenant: null,
      values: { email_enc: null, email_hash: null, email: 'a@example.com' },
    };
    expect(rowNeedsWork(row, ctx)).toBe(true);
    const plan = await transformRow(row, ctx);
    expect(plan.outcome).toBe('changed');
    expect(plan.next['email']).toBeNull();
    expect(plan.next['email_hash']).toBe(`h:users.email_enc:${Buffer.from('a@example.com').toString('hex')}`);
    const ctxUsers = { table: 'users', column: 'email_enc', rowId: '3', tenant: null };
    expect((await cipher.decrypt(plan.next['email_enc']!, ctxUsers)).toString()).toBe('a@example.com');

    // Target already holds the same plaintext (an earlier run, cut short before clearing): only the source is cleared.
    const same = await cipher.encrypt('b@example.com', { ...ctxUsers, rowId: '4' });
    const p2 = await transformRow(
      { id: '4', tenant: null, values: { email_enc: same, email_hash: 'h', email: 'b@example.com' } },
      ctx,
    );
    expect(p2.next).toEqual({ email_enc: same, email_hash: 'h', email: null });
    // The source changed since (the application still writes it): the target is re-encrypted from the source.
    const p3 = await transformRow(
      { id: '4', tenant: null, values: { email_enc: same, email_hash: 'h', email: 'new@example.com' } },
      ctx,
    );
    expect((await cipher.decrypt(p3.next['email_enc']!, { ...ctxUsers, rowId: '4' })).toString()).toBe(
      'new@example.com',
    );
    expect(p3.next['email']).toBeNull();
    expect(
      rowNeedsWork(
        { id: '4', tenant: null, values: { email_enc: p3.next['email_enc']!, email_hash: 'x', email: null } },
        ctx,
      ),
    ).toBe(false);
  });

  it('encrypt mode reports a missing blind indexer instead of writing a row without its index', async () => {
    const ctx = { ...ctxFor(users, usersShape, 'encrypt'), blindIndex: undefined };
    const plan = await transformRow(
      { id: '5', tenant: null, values: { email_enc: null, email_hash: null, email: 'c@example.com' } },
      ctx,
    );
    expect(plan.errors).toEqual([
      { column: 'email_enc', code: 'NO_BLIND_INDEXER', message: expect.stringMatching(/users.email_hash/) },
    ]);
    expect(plan.next['email_enc']).toBeNull();
    expect(plan.next['email']).toBe('c@example.com');
  });

  it('mapLimit keeps order and bounds concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(peak).toBe(3);
  });

  it('mapLimit starts no item after one failed (a throttled key service gets no more calls from a failed batch)', async () => {
    const started: number[] = [];
    const failing = mapLimit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setImmediate(r));
      if (n === 3) throw new Error('throttled');
      return n;
    });
    await expect(failing).rejects.toThrow('throttled');
    await new Promise((r) => setTimeout(r, 20));
    // 3 failed while 4 was in flight; nothing after that was started.
    expect(started).toEqual([1, 2, 3, 4]);
  });
});
