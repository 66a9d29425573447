import { randomBytes } from 'node:crypto';
import type { EncryptionContext } from '../../../../functions/core/crypto/context';
import { EnvelopeCipher } from '../../../../functions/core/crypto/envelope-cipher';
import { peekKeyId } from '../../../../functions/core/crypto/envelope';
import { RawKeyring } from '../../../../functions/core/crypto/keyrings/raw';
import { StaticKeyPolicy, type KeyPolicy, type KeyState, type KeyStatus } from '../../../../functions/core/keys/policy';
import type { Sql } from '../../../../functions/core/ports/sql';
import { valueCryptoFrom } from '../../../../functions/core/reencrypt/crypto-bridge';
import type { EngineDeps } from '../../../../functions/core/reencrypt/engine-deps';
import type { AuditEvent, AuditSink, KeyLifecycle } from '../../../../functions/core/reencrypt/ports';
import { parseRegistry, type Registry } from '../../../../functions/core/reencrypt/registry';

/**
 * Key catalog kept in memory, with a live policy: what the engine sees through
 * the KeyLifecycle port. Stands in for functions/core/keys/catalog.ts here;
 * the catalog's own integration tests cover the PostgreSQL one.
 */
export class MemoryCatalog implements KeyLifecycle {
  private readonly keys = new Map<string, KeyState>();
  readonly events: string[] = [];
  constructor(states: readonly KeyState[]) {
    for (const k of states) this.keys.set(k.id, k);
  }
  async list(): Promise<readonly KeyState[]> {
    return [...this.keys.values()];
  }
  async transition(keyId: string, to: KeyStatus, actor: string): Promise<void> {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`unknown key ${keyId}`);
    this.keys.set(keyId, { ...key, status: to });
    this.events.push(`${actor}:${keyId}:${key.status}->${to}`);
  }
  async activate(keyId: string, actor: string): Promise<void> {
    for (const k of this.keys.values()) if (k.status === 'active') await this.transition(k.id, 'rotating', actor);
    await this.transition(keyId, 'active', actor);
  }
  status(keyId: string): KeyStatus | undefined {
    return this.keys.get(keyId)?.status;
  }
  /** A policy that follows the catalog as it changes. */
  readonly policy: KeyPolicy = {
    assertCanEncrypt: (id) => this.snapshot().assertCanEncrypt(id),
    assertCanDecrypt: (id) => this.snapshot().assertCanDecrypt(id),
    encryptionKeyId: (tenant) => this.snapshot().encryptionKeyId(tenant),
    statusOf: (id) => this.snapshot().statusOf(id),
  };
  private snapshot(): StaticKeyPolicy {
    return new StaticKeyPolicy([...this.keys.values()]);
  }
}

/** Audit events in memory (the audit module's own tests cover rekey_audit_log). */
export class MemoryAudit implements AuditSink {
  readonly events: AuditEvent[] = [];
  async record(_sql: Sql, event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

export interface World {
  readonly keyring: RawKeyring;
  readonly catalog: MemoryCatalog;
  readonly cipher: EnvelopeCipher;
  readonly audit: MemoryAudit;
}

/** kek-v1 (rotating: the old key) and kek-v2 (active: the new primary). */
export function rotationWorld(): World {
  const keyring = new RawKeyring(
    [
      { id: 'kek-v2', key: randomBytes(32) },
      { id: 'kek-v1', key: randomBytes(32) },
    ],
    'kek-v2',
  );
  const catalog = new MemoryCatalog([
    { id: 'kek-v2', status: 'active' },
    { id: 'kek-v1', status: 'rotating' },
  ]);
  return { keyring, catalog, cipher: new EnvelopeCipher({ keyring, policy: catalog.policy }), audit: new MemoryAudit() };
}

/** A cipher that may still write under kek-v1: how values were written before the rotation (and how a lagging app writes). */
export function oldCipher(world: World): EnvelopeCipher {
  return new EnvelopeCipher({ keyring: world.keyring, policy: StaticKeyPolicy.fromKeyIds('kek-v1', ['kek-v2']) });
}

export const SECRETS_REGISTRY: Registry = parseRegistry({
  tables: [{ name: 'secrets', idColumn: 'id', columns: ['token', 'blob'], tenantColumn: 'org' }],
});

export function engine(db: { sql: Sql }, world: World, registry: Registry = SECRETS_REGISTRY, extra: Partial<EngineDeps> = {}): EngineDeps {
  return {
    sql: db.sql,
    registry,
    crypto: valueCryptoFrom({ cipher: world.cipher }),
    catalog: world.catalog,
    audit: world.audit,
    ...extra,
  };
}

export const ctxOf = (table: string, column: string, id: string | number, tenant: string | null = null): EncryptionContext => ({
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
      blobs.push(id % 10 === 0 ? null : await old.encrypt(Buffer.from(plaintextOf(id, 'blob')), ctxOf(table, 'blob', id, org)));
    }
    await sql.query(`INSERT INTO ${table} SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[])`, [ids, orgs, tokens, blobs]);
  }
}

/** md5 over every row's text form, in id order: equal digests, byte-identical table. */
export async function tableDigest(sql: Sql, table: string): Promise<string> {
  const { rows } = await sql.query<{ digest: string }>(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) AS digest FROM ${table} t`);
  return rows[0]!.digest;
}

export interface RowState {
  readonly token: string | null;
  readonly blob: string | null;
  readonly tokenKey: string | null;
  readonly blobKey: string | null;
}

/** Decrypts every row of a seeded table: plaintexts and key ids, by id. */
export async function readSecrets(sql: Sql, world: World, table = 'secrets', where = 'true'): Promise<Map<string, RowState>> {
  const { rows } = await sql.query<{ id: string; org: string; token: string | null; blob: Buffer | null }>(
    `SELECT id::text AS id, org, token, blob FROM ${table} WHERE ${where} ORDER BY id`,
  );
  const out = new Map<string, RowState>();
  for (const r of rows) {
    out.set(r.id, {
      token: r.token === null ? null : (await world.cipher.decrypt(r.token, ctxOf(table, 'token', r.id, r.org))).toString(),
      blob: r.blob === null ? null : (await world.cipher.decrypt(r.blob, ctxOf(table, 'blob', r.id, r.org))).toString(),
      tokenKey: r.token === null ? null : peekKeyId(r.token),
      blobKey: r.blob === null ? null : peekKeyId(r.blob),
    });
  }
  return out;
}
