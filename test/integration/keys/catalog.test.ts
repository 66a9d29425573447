import { createPgSql } from '../../../functions/core/adapters/pg/sql';
import { AuditLog } from '../../../functions/core/keys/audit';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import {
  ActiveKeyExistsError,
  CatalogInputError,
  CatalogKeyNotFoundError,
  InvalidKeyTransitionError,
  KeyAlreadyExistsError,
} from '../../../functions/core/keys/errors';
import { KeyDestroyedError, KeyNotActiveError } from '../../../functions/core/crypto/errors';
import { migratedDatabase, requireRealPostgres } from '../../support/database';

type Db = Awaited<ReturnType<typeof migratedDatabase>>;

describe('key catalog on a real PostgreSQL', () => {
  let db: Db;
  let catalog: KeyCatalog;
  beforeEach(async () => {
    db = await migratedDatabase();
    catalog = new KeyCatalog(db.sql);
  });
  afterEach(async () => {
    await db.drop();
  });

  it('walks a key through its whole lifecycle with timestamps and audit rows', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw' }, 'alice');
    expect((await catalog.require('kek-v1')).status).toBe('pending');
    await catalog.activate('kek-v1', 'alice');
    await catalog.add({ id: 'kek-v2', keyring: 'raw' }, 'alice');
    await catalog.activate('kek-v2', 'alice');

    const v1 = await catalog.require('kek-v1');
    const v2 = await catalog.require('kek-v2');
    expect(v1.status).toBe('rotating');
    expect(v1.rotatedAt).toBeInstanceOf(Date);
    expect(v2.status).toBe('active');
    expect(v2.activatedAt).toBeInstanceOf(Date);

    await catalog.transition('kek-v1', 'retired', 'bob');
    await catalog.destroy('kek-v1', 'bob');
    expect((await catalog.require('kek-v1')).destroyedAt).toBeInstanceOf(Date);

    const audit = await new AuditLog(db.sql).list({ subject: 'key:kek-v1' });
    expect(audit.map((a) => a.action).reverse()).toEqual([
      'key.added',
      'key.activated',
      'key.rotating',
      'key.retired',
      'key.destroyed',
    ]);
    expect(audit[0]!.actor).toBe('bob');
    expect(audit.find((a) => a.action === 'key.rotating')!.details).toMatchObject({
      from: 'active',
      to: 'rotating',
      replacedBy: 'kek-v2',
    });
  });

  it('rejects invalid transitions in code, naming both states', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    const err = await catalog.transition('kek-v1', 'destroyed').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidKeyTransitionError);
    expect((err as Error).message).toMatch(/from active to destroyed/);
    expect((await catalog.require('kek-v1')).status).toBe('active');
  });

  it('rejects invalid transitions in the database too, even from raw SQL', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await expect(db.sql.query("UPDATE rekey_keys SET status = 'destroyed' WHERE id = 'kek-v1'")).rejects.toThrow(
      /invalid key transition for kek-v1: active -> destroyed/,
    );
    await catalog.add({ id: 'kek-v0', keyring: 'raw', status: 'retired' });
    await catalog.destroy('kek-v0');
    await expect(db.sql.query("UPDATE rekey_keys SET status = 'active' WHERE id = 'kek-v0'")).rejects.toThrow(
      /destroyed -> active/,
    );
  });

  it('lets the database hold exactly one active key per tenant scope', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await catalog.add({ id: 'acme-v1', keyring: 'raw', tenant: 'acme', status: 'active' });
    await catalog.add({ id: 'globex-v1', keyring: 'raw', tenant: 'globex', status: 'active' });
    // A second global active key, inserted behind the catalog's back, is refused by the unique index.
    await expect(
      db.sql.query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v9', 'raw', 'active')"),
    ).rejects.toThrow();
    await expect(
      db.sql.query("INSERT INTO rekey_keys (id, keyring, tenant, status) VALUES ('acme-v9', 'raw', 'acme', 'active')"),
    ).rejects.toThrow();
    expect((await catalog.active())!.id).toBe('kek-v1');
    expect((await catalog.active('acme'))!.id).toBe('acme-v1');
    // Through the catalog, a second active add says which key holds the scope and what to do instead; no retry fixes it.
    const second = await catalog
      .add({ id: 'acme-v2', keyring: 'raw', tenant: 'acme', status: 'active' })
      .catch((e: Error) => e);
    expect(second).toBeInstanceOf(ActiveKeyExistsError);
    expect((second as ActiveKeyExistsError).retryable).toBe(false);
    expect((second as Error).message).toMatch(
      /tenant "acme" already has active key "acme-v1"; add it as pending and activate it/,
    );
    expect(await catalog.get('acme-v2')).toBeUndefined();
  });

  it('activating a tenant key leaves other scopes alone', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await catalog.add({ id: 'acme-v1', keyring: 'raw', tenant: 'acme', status: 'active' });
    await catalog.add({ id: 'acme-v2', keyring: 'raw', tenant: 'acme' });
    await catalog.activate('acme-v2');
    expect((await catalog.require('acme-v1')).status).toBe('rotating');
    expect((await catalog.require('kek-v1')).status).toBe('active');
  });

  it('serializes concurrent activations: one active key remains', async () => {
    requireRealPostgres('two activations at once need two connections');
    const other = createPgSql({ connectionString: db.url, max: 2 });
    try {
      await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
      await catalog.add({ id: 'kek-v2', keyring: 'raw' });
      await catalog.add({ id: 'kek-v3', keyring: 'raw' });
      const results = await Promise.allSettled([catalog.activate('kek-v2'), new KeyCatalog(other).activate('kek-v3')]);
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      const active = await catalog.list({ status: 'active' });
      expect(active).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('an add racing another add of the same id is refused as a duplicate, not as an activation conflict', async () => {
    requireRealPostgres('two adds racing need two connections');
    const other = createPgSql({ connectionString: db.url, max: 1 });
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let inserted!: () => void;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      // The other add inserted and has not committed: ours does not see the row, and its INSERT waits on it.
      const first = other.transaction(async (tx) => {
        await tx.query("INSERT INTO rekey_keys (id, keyring, status) VALUES ('kek-v9', 'raw', 'pending')");
        inserted();
        await held;
      });
      await insertedYet;
      const second = catalog.add({ id: 'kek-v9', keyring: 'raw' }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 200));
      release();
      await first;
      expect(await second).toBeInstanceOf(KeyAlreadyExistsError);
    } finally {
      await other.close();
    }
  });

  it('gives a policy: only active encrypts, retired decrypts, destroyed never does', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await catalog.add({ id: 'kek-v2', keyring: 'raw' });
    await catalog.activate('kek-v2');
    await catalog.transition('kek-v1', 'retired');
    await catalog.add({ id: 'kek-v0', keyring: 'raw', status: 'retired' });
    await catalog.destroy('kek-v0');

    const policy = await catalog.policy();
    expect(policy.encryptionKeyId()).toBe('kek-v2');
    expect(() => policy.assertCanEncrypt('kek-v1')).toThrow(KeyNotActiveError);
    expect(() => policy.assertCanDecrypt('kek-v1')).not.toThrow();
    expect(() => policy.assertCanDecrypt('kek-v0')).toThrow(KeyDestroyedError);
  });

  it('names every problem of a bad key at once, and refuses duplicates and unknown ids', async () => {
    const err = await catalog.add({ id: 'bad id!', keyring: 'nope' as never, tenant: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogInputError);
    expect((err as CatalogInputError).problems).toHaveLength(3);
    await catalog.add({ id: 'kek-v1', keyring: 'raw' });
    await expect(catalog.add({ id: 'kek-v1', keyring: 'raw' })).rejects.toBeInstanceOf(KeyAlreadyExistsError);
    await expect(catalog.activate('kek-v404')).rejects.toBeInstanceOf(CatalogKeyNotFoundError);
  });

  it('scopes audit rows by tenant for a non-owner role (row-level security)', async () => {
    await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' });
    await catalog.add({ id: 'acme-v1', keyring: 'raw', tenant: 'acme', status: 'active' });
    await catalog.add({ id: 'globex-v1', keyring: 'raw', tenant: 'globex', status: 'active' });
    const role = `rekey_reader_${Math.random().toString(36).slice(2, 8)}`;
    await db.sql.query(`CREATE ROLE ${role} NOLOGIN`);
    try {
      await db.sql.query(`GRANT SELECT ON rekey_audit_log TO ${role}`);
      const seen = await db.sql.transaction(async (tx) => {
        await tx.query(`SET LOCAL ROLE ${role}`);
        await tx.query("SELECT set_config('rekey.tenant', 'acme', true)");
        const acme = await tx.query<{ subject: string }>('SELECT subject FROM rekey_audit_log');
        await tx.query("SELECT set_config('rekey.tenant', '', true)");
        const global = await tx.query<{ subject: string }>('SELECT subject FROM rekey_audit_log');
        return { acme: acme.rows.map((r) => r.subject), global: global.rows.map((r) => r.subject) };
      });
      expect(seen.acme).toEqual(['key:acme-v1']);
      expect(seen.global).toEqual(['key:kek-v1']);
    } finally {
      await db.sql.query(`REVOKE ALL ON rekey_audit_log FROM ${role}`);
      await db.sql.query(`DROP ROLE ${role}`);
    }
  });
});
