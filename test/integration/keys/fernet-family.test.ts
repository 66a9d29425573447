import { KeyCatalog } from '../../../functions/core/keys/catalog';
import { ActiveKeyExistsError, CatalogInputError } from '../../../functions/core/keys/errors';
import { syncKeyringWithCatalog, fernetKeySource } from '../../../functions/runtime/catalog-sync';
import { FernetReader } from '../../../functions/core/crypto/legacy/fernet';
import { randomBytes } from 'node:crypto';
import { migratedDatabase, type TestDatabase } from '../../support/database';

/**
 * Fernet keys in the catalog (migration 0005): a family of their own, active
 * beside the active KEK, one active per family; the database refuses what
 * the code refuses.
 */
const FA = 'fernet:aaaaaaaaaaaaaaaa';
const FB = 'fernet:bbbbbbbbbbbbbbbb';

describe('Fernet keys in the key catalog', () => {
  let db: TestDatabase;
  let catalog: KeyCatalog;
  beforeEach(async () => {
    db = await migratedDatabase();
    catalog = new KeyCatalog(db.sql);
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
  });
  afterEach(async () => {
    await db.drop();
  });

  it('an active Fernet key sits beside the active KEK; activating another Fernet key demotes only the Fernet one', async () => {
    await catalog.add({ id: FA, keyring: 'fernet', status: 'active' });
    await expect(catalog.add({ id: FB, keyring: 'fernet', status: 'active' })).rejects.toBeInstanceOf(
      ActiveKeyExistsError,
    );
    await catalog.add({ id: FB, keyring: 'fernet' });
    await catalog.activate(FB, 'test');
    expect((await catalog.require(FA)).status).toBe('rotating');
    expect((await catalog.require('kek-v1')).status).toBe('active');
    expect((await catalog.active(null))?.id).toBe('kek-v1');
    expect((await catalog.active(null, 'fernet'))?.id).toBe(FB);
    expect((await catalog.policy()).encryptionKeyId(null)).toBe('kek-v1'); // envelopes never go under a Fernet key
  });

  it('refuses a Fernet id on another keyring, a Fernet key with a tenant — in code and in the database', async () => {
    await expect(catalog.add({ id: 'fernet:cccccccccccccccc', keyring: 'raw' })).rejects.toBeInstanceOf(
      CatalogInputError,
    );
    await expect(catalog.add({ id: 'kek-v9', keyring: 'fernet' })).rejects.toBeInstanceOf(CatalogInputError);
    await expect(catalog.add({ id: FA, keyring: 'fernet', tenant: 'acme' })).rejects.toBeInstanceOf(CatalogInputError);
    await expect(
      db.sql.query(`INSERT INTO rekey_keys (id, keyring) VALUES ('fernet:dddddddddddddddd', 'raw')`),
    ).rejects.toThrow(/rekey_keys_fernet_family/);
    await expect(
      db.sql.query(`INSERT INTO rekey_keys (id, keyring, tenant) VALUES ('fernet:dddddddddddddddd', 'fernet', 'acme')`),
    ).rejects.toThrow(/rekey_keys_fernet_family/);
    await db.sql.query(`INSERT INTO rekey_keys (id, keyring, status) VALUES ('${FA}', 'fernet', 'active')`);
    await expect(
      db.sql.query(`INSERT INTO rekey_keys (id, keyring, status) VALUES ('${FB}', 'fernet', 'active')`),
    ).rejects.toThrow(/one_active_per_scope/);
  });

  it('a process started with ENCRYPTION_KEY / _FALLBACK registers them: primary active, fallback rotating; a new primary demotes the old', async () => {
    const [k1, k2] = [randomBytes(32), randomBytes(32)];
    const first = FernetReader.fromKeys([k1]);
    expect((await syncKeyringWithCatalog(db.sql, fernetKeySource(first), 'test')).changes).toEqual([
      `registered ${first.primaryKeyId()} (active)`,
    ]);
    const second = FernetReader.fromKeys([k2, k1]);
    const changes = (await syncKeyringWithCatalog(db.sql, fernetKeySource(second), 'test')).changes;
    expect(changes).toEqual([`registered ${second.primaryKeyId()} (active); ${first.primaryKeyId()} now rotating`]);
    expect((await catalog.require(first.primaryKeyId())).status).toBe('rotating');
    expect((await catalog.require('kek-v1')).status).toBe('active');
    expect((await syncKeyringWithCatalog(db.sql, fernetKeySource(second), 'test')).changes).toEqual([]); // idempotent
  });
});
