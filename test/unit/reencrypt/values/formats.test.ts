import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import {
  fernetEncrypt,
  fernetKeyId,
  FernetReader,
  fernetTimestamp,
} from '../../../../functions/core/crypto/legacy/fernet';
import { jsonKeyIdEncrypt, JsonKeyIdReader } from '../../../../functions/core/crypto/legacy/json-key-id';
import { StaticKeyPolicy, type KeyState } from '../../../../functions/core/keys/policy';
import { valueCryptoFrom } from '../../../../functions/core/reencrypt/values/crypto-bridge';
import { targetKeyFor, valueDoneIn } from '../../../../functions/core/reencrypt/values/formats';
import { columnSets, type Mode } from '../../../../functions/core/reencrypt/values/modes';
import { parseRegistry, type RegistryTable } from '../../../../functions/core/reencrypt/config/registry';
import { RegistryError } from '../../../../functions/core/reencrypt/errors';
import { retireVerifiedKeys } from '../../../../functions/core/reencrypt/verify/retire';
import { validateJobRequest } from '../../../../functions/core/reencrypt/jobs/jobs';
import type { StorageForm, TableShape } from '../../../../functions/core/reencrypt/sql/table-shape';
import { rowNeedsWork, transformRow, type RowValues } from '../../../../functions/core/reencrypt/values/transforms';

/**
 * In-place rotation in a table's own format (formats.ts), with the real
 * readers and writers: Fernet tables end under the primary Fernet key with
 * each token's timestamp kept; JSON key_id tables under the primary KEK; a
 * value in another format is a row error; migrate still converts to rk1.
 */
const F_OLD = `${randomBytes(32).toString('base64url')}=`;
const F_NEW = `${randomBytes(32).toString('base64url')}=`;
const KEK1 = randomBytes(32);
const KEK2 = randomBytes(32);
const ids = { old: fernetKeyId(F_OLD), current: fernetKeyId(F_NEW) };
const keyring = new RawKeyring(
  [
    { id: 'kek-v2', key: KEK2 },
    { id: 'kek-v1', key: KEK1 },
  ],
  'kek-v2',
);
const catalog: KeyState[] = [
  { id: 'kek-v2', status: 'active' },
  { id: 'kek-v1', status: 'rotating' },
  { id: ids.current, status: 'active' },
  { id: ids.old, status: 'rotating' },
];
const fernet = FernetReader.fromEnv({ ENCRYPTION_KEY: F_NEW, ENCRYPTION_KEY_FALLBACK: F_OLD });
const cryptoWith = (keys: readonly KeyState[] = catalog) =>
  valueCryptoFrom({
    cipher: new EnvelopeCipher({ keyring, policy: new StaticKeyPolicy(keys) }),
    legacyReaders: [fernet, new JsonKeyIdReader((id) => keyring.kekFor(id))],
  });
const crypto = cryptoWith();

const [fernetTable, jsonTable] = parseRegistry({
  tables: [
    { name: 'users', idColumn: 'id', columns: ['email'], format: 'fernet' },
    { name: 'llm_providers', idColumn: 'id', columns: ['api_key'], format: 'json-key-id' },
  ],
}).tables as [RegistryTable, RegistryTable];

function ctx(table: RegistryTable, mode: Mode = 'rewrap', form: StorageForm = 'text', c = crypto) {
  const shape: TableShape = {
    idType: 'bigint',
    forms: Object.fromEntries([...table.columns, 'email_hash'].map((col) => [col, form])),
  };
  return {
    table,
    shape,
    sets: columnSets(table, mode),
    mode,
    targetKeyId: targetKeyFor(table, mode, { keyId: 'kek-v2', fernetKeyId: ids.current }),
    crypto: c,
  };
}
const row = (column: string, value: string | Buffer | null, id = '7'): RowValues => ({
  id,
  tenant: null,
  values: { [column]: value },
});

describe('in-place rotation in the table format', () => {
  it('a Fernet token under the fallback key is rotated to the primary key, keeping its timestamp (MultiFernet.rotate)', async () => {
    const token = fernetEncrypt(F_OLD, 'alice@example.com', { time: 1_600_000_000 });
    expect(rowNeedsWork(row('email', token), ctx(fernetTable))).toBe(true);
    const plan = await transformRow(row('email', token), ctx(fernetTable));
    expect(plan.outcome).toBe('changed');
    const rotated = plan.next.email as string;
    expect(fernet.keyIdOf(rotated)).toBe(ids.current);
    expect(fernetTimestamp(rotated)).toBe(1_600_000_000);
    expect(FernetReader.fromKeys([F_NEW]).decryptSync(rotated).toString()).toBe('alice@example.com');
    expect(rowNeedsWork(row('email', rotated), ctx(fernetTable))).toBe(false);
    expect((await transformRow(row('email', rotated), ctx(fernetTable))).outcome).toBe('skipped');
  });

  it('keeps the storage form: a bytea column gets the token as bytes', async () => {
    const plan = await transformRow(
      row('email', Buffer.from(fernetEncrypt(F_OLD, 'b@example.com'))),
      ctx(fernetTable, 'rewrap', 'binary'),
    );
    expect(Buffer.isBuffer(plan.next.email)).toBe(true);
    expect(fernet.keyIdOf(plan.next.email as Buffer)).toBe(ids.current);
  });

  it('a JSON key_id value under kek-v1 is re-encrypted to kek-v2 with a fresh DEK, in the same layout', async () => {
    const value = jsonKeyIdEncrypt(KEK1, 'kek-v1', 'sk-live-1');
    const plan = await transformRow(row('api_key', value), ctx(jsonTable, 'reencrypt'));
    const out = JSON.parse(plan.next.api_key as string) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['version', 'alg', 'key_id', 'dek_wrapped', 'nonce', 'ciphertext']);
    expect(out.key_id).toBe('kek-v2');
    expect(out.dek_wrapped).not.toBe((JSON.parse(value) as Record<string, unknown>).dek_wrapped);
    expect(
      (
        await new JsonKeyIdReader((id) => (id === 'kek-v2' ? KEK2 : undefined)).decrypt(plan.next.api_key as string)
      ).toString(),
    ).toBe('sk-live-1');
  });

  it('a value in another format than the table declares is a FOREIGN_FORMAT row error, left as it is', async () => {
    const envelope = await (
      await EnvelopeCipher.create({ keyring })
    ).encrypt('x', { table: 'users', column: 'email', rowId: '7' });
    for (const value of [envelope, jsonKeyIdEncrypt(KEK1, 'kek-v1', 'x')]) {
      const plan = await transformRow(row('email', value), ctx(fernetTable));
      expect(plan.outcome).toBe('failed');
      expect(plan.errors[0]).toMatchObject({
        column: 'email',
        code: 'FOREIGN_FORMAT',
        message: expect.stringMatching(/format is fernet/),
      });
      expect(plan.next.email).toBe(value);
    }
    expect((await transformRow(row('api_key', fernetEncrypt(F_OLD, 'x')), ctx(jsonTable))).errors[0]!.code).toBe(
      'FOREIGN_FORMAT',
    );
  });

  it('encrypt mode writes plaintext in the table format; other modes record it', async () => {
    const plan = await transformRow(row('email', 'carol@example.com'), ctx(fernetTable, 'encrypt'));
    expect(fernet.keyIdOf(plan.next.email as string)).toBe(ids.current);
    const json = await transformRow(row('api_key', 'sk-live-2'), ctx(jsonTable, 'encrypt'));
    expect((JSON.parse(json.next.api_key as string) as { key_id: string }).key_id).toBe('kek-v2');
    expect((await transformRow(row('email', 'carol@example.com'), ctx(fernetTable))).errors[0]!.code).toBe(
      'UNEXPECTED_PLAINTEXT',
    );
  });

  it('migrate mode still converts both formats to rk1 envelopes under the KEK', async () => {
    const fromFernet = await transformRow(
      row('email', fernetEncrypt(F_OLD, 'd@example.com')),
      ctx(fernetTable, 'migrate'),
    );
    expect(peekKeyId(fromFernet.next.email as string)).toBe('kek-v2');
    const fromJson = await transformRow(
      row('api_key', jsonKeyIdEncrypt(KEK1, 'kek-v1', 'sk')),
      ctx(jsonTable, 'migrate'),
    );
    expect(peekKeyId(fromJson.next.api_key as string)).toBe('kek-v2');
  });

  it('the catalog decides: a Fernet target not active cannot write, a destroyed Fernet key never decrypts', async () => {
    const notActive = cryptoWith(catalog.map((k) => (k.id === ids.current ? { ...k, status: 'pending' as const } : k)));
    const plan = await transformRow(
      row('email', fernetEncrypt(F_OLD, 'e@example.com')),
      ctx(fernetTable, 'rewrap', 'text', notActive),
    );
    expect(plan.errors[0]!.code).toBe('KEY_NOT_ACTIVE');
    const destroyed = cryptoWith(catalog.map((k) => (k.id === ids.old ? { ...k, status: 'destroyed' as const } : k)));
    const gone = await transformRow(
      row('email', fernetEncrypt(F_OLD, 'e@example.com')),
      ctx(fernetTable, 'rewrap', 'text', destroyed),
    );
    expect(gone.errors[0]!.code).toBe('KEY_DESTROYED');
  });

  it('recomputes a stale blind index while rotating in place, leaves a current one alone', async () => {
    const [indexed] = parseRegistry({
      tables: [
        { name: 'users', idColumn: 'id', columns: ['email'], format: 'fernet', blindIndex: { email: 'email_hash' } },
      ],
    }).tables as [RegistryTable];
    const hasher = {
      index: (p: Buffer) => `bidx-v2:${p.length}`,
      isCurrent: (v: string | Buffer) => String(v).startsWith('bidx-v2:'),
    };
    const token = fernetEncrypt(F_OLD, 'frank@example.com');
    const c = { ...ctx(indexed), blindIndex: hasher };
    const stale = await transformRow({ id: '7', tenant: null, values: { email: token, email_hash: 'bidx-v1:old' } }, c);
    expect(stale.next.email_hash).toBe('bidx-v2:17');
    const current = await transformRow(
      { id: '7', tenant: null, values: { email: token, email_hash: 'bidx-v2:99' } },
      c,
    );
    expect(current.next.email_hash).toBe('bidx-v2:99');
    expect(fernet.keyIdOf(current.next.email as string)).toBe(ids.current);
  });

  it('done means: in the table format and under its target key', () => {
    expect(valueDoneIn({ kind: 'fernet', keyId: ids.current }, ids.current, 'fernet')).toBe(true);
    expect(valueDoneIn({ kind: 'fernet', keyId: ids.current }, ids.current, 'rk1')).toBe(false);
    expect(valueDoneIn({ kind: 'json-key-id', keyId: 'kek-v2' }, 'kek-v2', 'json-key-id')).toBe(true);
    expect(valueDoneIn({ kind: 'envelope', keyId: 'kek-v2' }, 'kek-v2', 'json-key-id')).toBe(false);
    expect(valueDoneIn({ kind: 'null' }, 'x', 'fernet')).toBe(true);
  });
});

describe('registry "format" and the retire gate', () => {
  it("refuses a Fernet key as a job's target key (a Fernet key never encrypts an envelope)", () => {
    expect(validateJobRequest({ mode: 'rewrap', targetKeyId: ids.current, requestedBy: 't' }).join('\n')).toMatch(
      /targetKeyId: fernet:[0-9a-f]{16} is a Fernet key/,
    );
    expect(validateJobRequest({ mode: 'rewrap', targetKeyId: 'kek-v2', requestedBy: 't' })).toEqual([]);
  });

  it('validates the format and refuses a key id column on a Fernet table, listing both problems', () => {
    const err = (() => {
      try {
        parseRegistry({
          tables: [
            { name: 'a', idColumn: 'id', columns: ['c'], format: 'fernet2' },
            { name: 'b', idColumn: 'id', columns: ['c'], keyIdColumn: 'k', format: 'fernet' },
          ],
        });
      } catch (e) {
        return e as RegistryError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toMatch(/tables\[0\]\.format: must be one of "rk1", "fernet", "json-key-id"/);
    expect(err.message).toMatch(/tables\[1\]\.keyIdColumn: a "fernet" table cannot have a key id column/);
    expect(
      parseRegistry({ tables: [{ name: 'a', idColumn: 'id', columns: ['c'] }] }).tables[0]!.format,
    ).toBeUndefined(); // rk1 by default
  });

  it('retires a rotating Fernet key only when no token needs it, and keeps every Fernet key while a token verifies under none', async () => {
    const keys = [...catalog];
    const transition = jest.fn(async () => undefined);
    const lifecycle = { list: async () => keys, transition, activate: async () => undefined };
    const kept = await retireVerifiedKeys(
      { catalog: lifecycle },
      { keys: { [ids.current]: 5, '(unknown fernet key)': 1, 'kek-v2': 3 } },
      'test',
    );
    expect(kept.retired).toEqual(['kek-v1']);
    expect(kept.kept).toEqual([{ keyId: ids.old, values: 1 }]);
    const clean = await retireVerifiedKeys({ catalog: lifecycle }, { keys: { [ids.current]: 5, 'kek-v2': 3 } }, 'test');
    expect(clean.retired).toEqual(['kek-v1', ids.old]);
  });
});
