import type { Sql } from '../ports/sql';
import { AuditLog } from './audit';
import { KeyCatalog } from './catalog';
import type { CatalogKey } from './catalog-rows';
import { CatalogError } from './errors';
import type { KeyStatus } from '../crypto/key-policy';

/**
 * Crypto-shredding: destroying a key while values remain under it, so they
 * can never be decrypted again (a tenant leaving, an erasure request). The
 * lifecycle only destroys retired (or never-used pending) keys, so a shred
 * walks the key the rest of the way — active → rotating → retired →
 * destroyed — in one transaction, each step audited as usual and marked
 * `shred: true`. The global active key is refused: destroying it would leave
 * nothing to encrypt with.
 */
const PATH_TO_DESTROYED: Readonly<Record<KeyStatus, readonly KeyStatus[]>> = {
  pending: ['destroyed'],
  active: ['rotating', 'retired', 'destroyed'],
  rotating: ['retired', 'destroyed'],
  retired: ['destroyed'],
  destroyed: [],
};

/** The global active key cannot be shredded: activate another key first. */
export class GlobalPrimaryShredError extends CatalogError {
  readonly code = 'SHRED_GLOBAL_PRIMARY';
  constructor(readonly keyId: string) {
    super(
      `key ${JSON.stringify(keyId)} is the global active key: destroying it would leave nothing to encrypt with. ` +
        'Deploy and activate a new key, run `rekey reencrypt`, then destroy this one',
    );
  }
}

export async function shredKey(
  sql: Sql,
  id: string,
  actor: string,
  details: Readonly<Record<string, unknown>> = {},
): Promise<CatalogKey> {
  return sql.transaction(async (tx) => {
    const catalog = new KeyCatalog(tx, { audit: new AuditLog(tx) });
    const key = await catalog.require(id);
    if (key.status === 'active' && key.tenant === null) throw new GlobalPrimaryShredError(id);
    let current = key;
    for (const to of PATH_TO_DESTROYED[key.status])
      current = await catalog.transition(id, to, actor, { ...details, shred: true });
    return current;
  });
}
