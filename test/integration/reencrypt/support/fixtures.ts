import { randomBytes } from 'node:crypto';
import type { EncryptionContext } from '../../../../functions/core/crypto/context';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import { AuditLog } from '../../../../functions/core/keys/audit';
import { KeyCatalog } from '../../../../functions/core/keys/catalog';
import { StaticKeyPolicy, type KeyPolicy, type KeyStatus } from '../../../../functions/core/keys/policy';
import type { Sql } from '../../../../functions/core/ports/sql';
import { valueCryptoFrom } from '../../../../functions/core/reencrypt/values/crypto-bridge';
import type { EngineDeps } from '../../../../functions/core/reencrypt/ports';
import { parseRegistry, type Registry } from '../../../../functions/core/reencrypt/config/registry';

/** A KeyPolicy that delegates to a snapshot of the catalog, reloaded by `refresh` (KeyCatalog.policy() is a snapshot). */
class ReloadablePolicy implements KeyPolicy {
  private current: KeyPolicy = new StaticKeyPolicy([]);
  constructor(private readonly catalog: KeyCatalog) {}
  async refresh(): Promise<void> {
    this.current = await this.catalog.policy();
  }
  assertCanEncrypt(id: string, tenant?: string | null): void {
    this.current.assertCanEncrypt(id, tenant);
  }
  assertCanDecrypt(id: string): void {
    this.current.assertCanDecrypt(id);
  }
  encryptionKeyId(tenant?: string | null): string {
    return this.current.encryptionKeyId(tenant);
  }
  statusOf(id: string): KeyStatus | undefined {
    return this.current.statusOf(id);
  }
}

export interface World {
  readonly keyring: RawKeyring;
  /** The real key catalog (rekey_keys) and audit log (rekey_audit_log). */
  readonly catalog: KeyCatalog;
  readonly audit: AuditLog;
  readonly cipher: EnvelopeCipher;
  /** Reloads the cipher's key policy from the catalog (EngineDeps.refreshKeys). */
  refreshKeys(): Promise<void>;
  status(keyId: string): Promise<KeyStatus | undefined>;
  /** Audit actions recorded since the world was set up, oldest first. */
  actions(): Promise<string[]>;
}

/**
 * A fresh catalog with kek-v1 (rotating: the old key) and kek-v2 (active: the
 * new primary), raw KEKs for both, and a cipher checking the catalog's policy.
 */
export async function rotationWorld(
  sql: Sql,
  options: { readonly tenantKeys?: readonly { id: string; tenant: string }[] } = {},
): Promise<World> {
  await sql.query('TRUNCATE rekey_audit_log, rekey_keys, rekey_known_tables');
  const tenantKeys = options.tenantKeys ?? [];
  const keyring = new RawKeyring(
    [
      { id: 'kek-v2', key: randomBytes(32) },
      { id: 'kek-v1', key: randomBytes(32) },
      ...tenantKeys.map((k) => ({ id: k.id, key: randomBytes(32) })),
    ],
    'kek-v2',
  );
  const audit = new AuditLog(sql);
  const catalog = new KeyCatalog(sql, { audit });
  await catalog.add({ id: 'kek-v1', keyring: 'raw', status: 'active' }, 'setup');
  await catalog.add({ id: 'kek-v2', keyring: 'raw' }, 'setup');
  await catalog.activate('kek-v2', 'setup');
  // Tenants with their own key: active in their scope (rotationWorld's rows of that tenant are still under kek-v1).
  for (const k of tenantKeys)
    await catalog.add({ id: k.id, keyring: 'raw', tenant: k.tenant, status: 'active' }, 'setup');
  const policy = new ReloadablePolicy(catalog);
  await policy.refresh();
  const { rows } = await sql.query<{ max: string | null }>('SELECT max(id)::text AS max FROM rekey_audit_log');
  const since = rows[0]?.max ?? '0';
  return {
    keyring,
    catalog,
    audit,
    cipher: new EnvelopeCipher({ keyring, policy }),
    refreshKeys: () => policy.refresh(),
    status: async (id) => (await catalog.get(id))?.status,
    actions: async () => {
      const r = await sql.query<{ action: string }>(
        'SELECT action FROM rekey_audit_log WHERE id > $1::bigint ORDER BY id',
        [since],
      );
      return r.rows.map((x) => x.action);
    },
  };
}

/** A cipher that may still write under kek-v1: how values were written before the rotation (and how a lagging app writes). */
export function oldCipher(world: World): EnvelopeCipher {
  return new EnvelopeCipher({ keyring: world.keyring, policy: StaticKeyPolicy.fromKeyIds('kek-v1', ['kek-v2']) });
}

export const SECRETS_REGISTRY: Registry = parseRegistry({
  tables: [{ name: 'secrets', idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' }],
});

export function engine(
  db: { sql: Sql },
  world: World,
  registry: Registry = SECRETS_REGISTRY,
  extra: Partial<EngineDeps> = {},
): EngineDeps {
  return {
    sql: db.sql,
    registry,
    crypto: valueCryptoFrom({ cipher: world.cipher }),
    catalog: world.catalog,
    audit: world.audit,
    refreshKeys: world.refreshKeys,
    ...extra,
  };
}

export const ctxOf = (
  table: string,
  column: string,
  id: string | number,
  tenant: string | null = null,
): EncryptionContext => ({
  table,
  column,
  rowId: String(id),
  tenant,
});

export function plaintextOf(id: number | string, column: string, generation = 0): string {
  return `value-${column}-${id}-g${generation}`;
}

/**
 * `secrets(id bigint pk, org text, token text, blob bytea)` with `n` rows
 * encrypted under kek-v1 (token as text envelopes, blob as binary ones; every
 * 10th blob NULL).
 */
export async function seedSecrets(sql: Sql, world: World, n: number, table = 'secrets'): Promise<void> {
  await sql.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, org text, token text, blob bytea)`);
  const old = oldCipher(world);
  const chunk = 2000;
  for (let start = 1; start <= n; start += chunk) {
    const ids: string[] = [];
    const orgs: string[] = [];
    const tokens: string[] = [];
    const blobs: (Buffer | null)[] = [];
    for (let id = start; id < Math.min(start + chunk, n + 1); id++) {
      const org = `org-${id % 3}`;
      ids.push(String(id));
      orgs.push(org);
      tokens.push(await old.encrypt(plaintextOf(id, 'token'), ctxOf(table, 'token', id, org)));
      blobs.push(
        id % 10 === 0 ? null : await old.encrypt(Buffer.from(plaintextOf(id, 'blob')), ctxOf(table, 'blob', id, org)),
      );
    }
    await sql.query(`INSERT INTO ${table} SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[])`, [
      ids,
      orgs,
      tokens,
      blobs,
    ]);
  }
}

/** md5 over every row's text form, in id order: equal digests, byte-identical table. */
export async function tableDigest(sql: Sql, table: string): Promise<string> {
  const { rows } = await sql.query<{ digest: string }>(
    `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) AS digest FROM ${table} t`,
  );
  return rows[0]!.digest;
}

export interface RowState {
  readonly token: string | null;
  readonly blob: string | null;
  readonly tokenKey: string | null;
  readonly blobKey: string | null;
}

/** Decrypts every row of a seeded table: plaintexts and key ids, by id. */
export async function readSecrets(
  sql: Sql,
  world: World,
  table = 'secrets',
  where = 'true',
): Promise<Map<string, RowState>> {
  const { rows } = await sql.query<{ id: string; org: string; token: string | null; blob: Buffer | null }>(
    `SELECT id::text AS id, org, token, blob FROM ${table} WHERE ${where} ORDER BY id`,
  );
  const out = new Map<string, RowState>();
  for (const r of rows) {
    out.set(r.id, {
      token:
        r.token === null ? null : (await world.cipher.decrypt(r.token, ctxOf(table, 'token', r.id, r.org))).toString(),
      blob: r.blob === null ? null : (await world.cipher.decrypt(r.blob, ctxOf(table, 'blob', r.id, r.org))).toString(),
      tokenKey: r.token === null ? null : peekKeyId(r.token),
      blobKey: r.blob === null ? null : peekKeyId(r.blob),
    });
  }
  return out;
}
