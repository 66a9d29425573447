import type { Sql } from '../ports/sql';
import { AuditLog } from './audit';
import {
  ActiveKeyExistsError,
  CatalogInputError,
  CatalogKeyNotFoundError,
  InvalidKeyTransitionError,
  KeyAlreadyExistsError,
  KeyChangedConcurrentlyError,
} from './errors';
import { isFernetKeyId, KEY_STATUSES, StaticKeyPolicy, type KeyStatus } from '../crypto/key-policy';
import { KEY_TRANSITIONS, canTransitionKey } from './transitions';
import { assertNoLateWriters } from '../readers/gate';
import {
  getKey,
  keyFromRow,
  SELECT_KEYS,
  STAMP,
  translateConflict,
  type CatalogKey,
  type KeyRow,
} from './catalog-rows';
import { validateNewKey, type NewCatalogKey } from './new-key';

/**
 * The key catalog (`rekey_keys`): which key versions exist, in which tenant
 * scope, and where each stands in its lifecycle. Every change is a
 * compare-and-swap on the old status and writes an audit row in the same
 * transaction. The database enforces one active key per scope and the
 * transition table too, so a raw-SQL mistake cannot break the invariants.
 */
export class KeyCatalog {
  private readonly audit: AuditLog;

  constructor(
    private readonly sql: Sql,
    options: { readonly audit?: AuditLog } = {},
  ) {
    this.audit = options.audit ?? new AuditLog(sql);
  }

  async list(filter: { readonly tenant?: string | null; readonly status?: KeyStatus } = {}): Promise<CatalogKey[]> {
    const where: string[] = [];
    const params: (string | null)[] = [];
    if (filter.tenant !== undefined) {
      params.push(filter.tenant);
      where.push(`tenant IS NOT DISTINCT FROM $${params.length}`);
    }
    if (filter.status !== undefined) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    const { rows } = await this.sql.query<KeyRow>(
      `${SELECT_KEYS}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      params,
    );
    return rows.map(keyFromRow);
  }

  async get(id: string): Promise<CatalogKey | undefined> {
    return getKey(this.sql, id);
  }

  async require(id: string): Promise<CatalogKey> {
    const key = await this.get(id);
    if (!key) throw new CatalogKeyNotFoundError(id);
    return key;
  }

  /** The active KEK of a tenant scope (null: the global scope); `fernet`: the active Fernet key instead. */
  async active(tenant: string | null = null, family: 'kek' | 'fernet' = 'kek'): Promise<CatalogKey | undefined> {
    return (await this.list({ tenant, status: 'active' })).find((k) => isFernetKeyId(k.id) === (family === 'fernet'));
  }

  async add(key: NewCatalogKey, actor = 'rekey'): Promise<CatalogKey> {
    validateNewKey(key);
    return this.sql.transaction(async (tx) => {
      if (await getKey(tx, key.id)) throw new KeyAlreadyExistsError(key.id);
      const status = key.status ?? 'pending';
      if (status === 'active') {
        // Say so plainly: the one-active-key index would refuse it, and that refusal reads like a lost race.
        const tenant = key.tenant ?? null;
        const active = await tx.query<{ id: string }>(
          `SELECT id FROM rekey_keys WHERE status = 'active' AND tenant IS NOT DISTINCT FROM $1 AND (keyring = 'fernet') = $2`,
          [tenant, key.keyring === 'fernet'],
        );
        if (active.rows[0]) throw new ActiveKeyExistsError(key.id, tenant, active.rows[0].id);
      }
      const stamp = STAMP[status];
      try {
        await tx.query(
          `INSERT INTO rekey_keys (id, keyring, kms_key_arn, tenant, status${stamp ? `, ${stamp}` : ''})
           VALUES ($1, $2, $3, $4, $5${stamp ? ', now()' : ''})`,
          [key.id, key.keyring, key.kmsKeyArn ?? null, key.tenant ?? null, status],
        );
      } catch (err) {
        throw translateConflict(err, key.id, status);
      }
      await this.audit.record(tx, {
        actor,
        action: 'key.added',
        subject: `key:${key.id}`,
        tenant: key.tenant ?? null,
        details: { keyring: key.keyring, status },
      });
      return (await getKey(tx, key.id))!;
    });
  }

  /**
   * Makes `id` the active key of its tenant scope; the scope's current active
   * key (if another) becomes `rotating` — it still decrypts until the
   * re-encryption job verifies zero rows under it and retires it. One
   * transaction; used for rotation and for rollback (rotating/retired → active).
   */
  async activate(id: string, actor = 'rekey'): Promise<CatalogKey> {
    return this.sql.transaction(async (tx) => {
      const target = await getKey(tx, id, true);
      if (!target) throw new CatalogKeyNotFoundError(id);
      if (target.status === 'active') return target;
      assertTransition(target, 'active');
      const { rows } = await tx.query<KeyRow>(
        `${SELECT_KEYS} WHERE coalesce(tenant, '') = coalesce($1, '') AND status = 'active' AND (keyring = 'fernet') = $2 FOR UPDATE`,
        [target.tenant, target.keyring === 'fernet'],
      );
      for (const previous of rows.map(keyFromRow)) {
        await this.move(tx, previous, 'rotating', actor, { replacedBy: id });
      }
      return this.move(tx, target, 'active', actor, rows.length ? { replaces: rows.map((r) => r.id) } : {});
    });
  }

  /** One lifecycle step, checked against KEY_TRANSITIONS; InvalidKeyTransitionError names both states. */
  async transition(
    id: string,
    to: KeyStatus,
    actor = 'rekey',
    details: Readonly<Record<string, unknown>> = {},
  ): Promise<CatalogKey> {
    if (!KEY_STATUSES.includes(to))
      throw new CatalogInputError([`unknown status ${JSON.stringify(to)} (one of ${KEY_STATUSES.join(', ')})`]);
    if (to === 'active') return this.activate(id, actor);
    return this.sql.transaction(async (tx) => {
      const key = await getKey(tx, id, true);
      if (!key) throw new CatalogKeyNotFoundError(id);
      if (key.status === to) return key;
      assertTransition(key, to);
      // A live reader that still encrypts with the key would go on writing values under a retired key.
      if (to === 'retired') await assertNoLateWriters(tx, id);
      return this.move(tx, key, to, actor, details);
    });
  }

  async destroy(id: string, actor = 'rekey'): Promise<CatalogKey> {
    return this.transition(id, 'destroyed', actor);
  }

  /** A KeyPolicy snapshot of the whole catalog, for EnvelopeCipher. */
  async policy(): Promise<StaticKeyPolicy> {
    return new StaticKeyPolicy(await this.list());
  }

  private async move(
    tx: Sql,
    key: CatalogKey,
    to: KeyStatus,
    actor: string,
    details: Readonly<Record<string, unknown>>,
  ): Promise<CatalogKey> {
    const stamp = STAMP[to];
    let updated: number;
    try {
      const result = await tx.query(
        `UPDATE rekey_keys SET status = $2${stamp ? `, ${stamp} = now()` : ''} WHERE id = $1 AND status = $3`,
        [key.id, to, key.status],
      );
      updated = result.rowCount;
    } catch (err) {
      throw translateConflict(err, key.id, key.status);
    }
    if (updated !== 1) throw new KeyChangedConcurrentlyError(key.id, key.status);
    await this.audit.record(tx, {
      actor,
      action: `key.${verbFor(to)}`,
      subject: `key:${key.id}`,
      tenant: key.tenant,
      details: { from: key.status, to, ...details },
    });
    return (await getKey(tx, key.id))!;
  }
}

function verbFor(status: KeyStatus): string {
  return { pending: 'pending', active: 'activated', rotating: 'rotating', retired: 'retired', destroyed: 'destroyed' }[
    status
  ];
}

function assertTransition(key: CatalogKey, to: KeyStatus): void {
  if (!canTransitionKey(key.status, to))
    throw new InvalidKeyTransitionError(key.id, key.status, to, KEY_TRANSITIONS[key.status]);
}
