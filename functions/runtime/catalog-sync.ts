import type { Keyring } from '../core/crypto/keyring';
import { KmsKeyring } from '../core/crypto/keyrings/kms';
import { AuditLog } from '../core/keys/audit';
import { KeyCatalog } from '../core/keys/catalog';
import type { CatalogKey } from '../core/keys/catalog-rows';
import type { CatalogKeyringKind } from '../core/keyring-kinds';
import type { FernetReader } from '../core/crypto/legacy/fernet';
import { isFernetKeyId } from '../core/crypto/key-policy';
import { CatalogError } from '../core/keys/errors';
import type { Sql } from '../core/ports/sql';

export class KeyringCatalogMismatchError extends CatalogError {
  readonly code = 'KEYRING_CATALOG_MISMATCH';
}

export interface SyncResult {
  /** What changed (or, previewed, would change), for the start-up lines: `registered kek-v2 (active); kek-v1 now rotating`. */
  readonly changes: readonly string[];
}

export interface SyncOptions {
  /**
   * false: only say what would change (a dry run must leave the catalog as
   * it found it: activating a key flips what every application encrypts with).
   * @default true
   */
  readonly apply?: boolean;
}

/** Serialises catalog syncs of concurrent processes started with the same new key (migrate.ts uses another id). */
const CATALOG_SYNC_LOCK_ID = 7_301_845_211;

type Step = { readonly kind: 'register-rotating' | 'register-active' | 'activate'; readonly id: string };

/**
 * Brings the catalog in line with the keyring the process was started with —
 * the runbook's "deploy the new key as primary, keep the old one as previous":
 * - a keyring key the catalog does not know is registered (the primary as
 *   active — the previous active key becomes `rotating` — others as `rotating`);
 * - a keyring primary the catalog holds as pending is activated;
 * - a keyring primary the catalog holds as rotating, retired or destroyed is
 *   an error that says what to run: rekey never silently undoes a rotation.
 * Global scope only; tenant keys are managed with `rekey keys`.
 *
 * Changes are made in one transaction under an advisory lock, re-reading the
 * catalog there: two processes started together with a new key both find it
 * missing, and the second must then find it registered, not fail on a
 * duplicate.
 */
export async function syncKeyringWithCatalog(
  sql: Sql,
  keyring: KeySource,
  actor: string,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const ids = await keyring.keyIds();
  const primary = await keyring.primaryKeyId();
  const family = keyring.kind === 'fernet' ? 'fernet' : 'kek';
  const ofFamily = (keys: readonly CatalogKey[]): CatalogKey[] =>
    keys.filter((k) => isFernetKeyId(k.id) === (family === 'fernet'));
  const seen = ofFamily(await new KeyCatalog(sql).list());
  const planned = plan(seen, ids, primary, family);
  if (planned.length === 0) return { changes: [] };
  if (options.apply === false) {
    const active = seen.find((k) => k.status === 'active' && k.tenant === null);
    return { changes: planned.map((step) => describeStep(step, active?.id, true)) };
  }
  return sql.transaction(async (tx) => {
    await tx.query('SELECT 1 AS locked FROM pg_advisory_xact_lock($1)', [CATALOG_SYNC_LOCK_ID]);
    const catalog = new KeyCatalog(tx, { audit: new AuditLog(tx) });
    const changes: string[] = [];
    for (const step of plan(ofFamily(await catalog.list()), ids, primary, family)) {
      const previous = step.kind === 'register-rotating' ? undefined : await catalog.active(null, family);
      const kmsKeyArn = kmsKeyOf(keyring, step.id);
      if (step.kind === 'register-rotating')
        await catalog.add({ id: step.id, keyring: keyring.kind, kmsKeyArn, status: 'rotating' }, actor);
      if (step.kind === 'register-active') await catalog.add({ id: step.id, keyring: keyring.kind, kmsKeyArn }, actor);
      if (step.kind !== 'register-rotating') await catalog.activate(step.id, actor);
      changes.push(describeStep(step, previous?.id, false));
    }
    return { changes };
  });
}

/** What a catalog sync needs of a key source: a Keyring, or the Fernet keys of ENCRYPTION_KEY / _FALLBACK (fernetKeySource). */
export interface KeySource {
  readonly kind: CatalogKeyringKind;
  keyIds(): Promise<readonly string[]>;
  primaryKeyId(): Promise<string>;
}

/** The Fernet keys as a key source: registered as keyring `fernet`, primary (ENCRYPTION_KEY) active, fallbacks rotating. */
export function fernetKeySource(reader: FernetReader): KeySource {
  return {
    kind: 'fernet',
    keyIds: () => Promise.resolve(reader.keyIds()),
    primaryKeyId: () => Promise.resolve(reader.primaryKeyId()),
  };
}

/** The steps that bring `known` in line with the keyring; throws when the keyring's primary cannot become active without an operator. */
function plan(known: readonly CatalogKey[], ids: readonly string[], primary: string, family: 'kek' | 'fernet'): Step[] {
  const byId = new Map(known.map((k) => [k.id, k]));
  const steps: Step[] = ids
    .filter((id) => id !== primary && !byId.has(id))
    .map((id) => ({ kind: 'register-rotating', id }));
  const current = byId.get(primary);
  if (!current) return [...steps, { kind: 'register-active', id: primary }];
  if (current.status === 'pending') return [...steps, { kind: 'activate', id: primary }];
  if (current.status !== 'active') {
    const active = known.find((k) => k.status === 'active' && k.tenant === null);
    throw new KeyringCatalogMismatchError(
      `the keyring's primary key ${primary} is ${current.status} in the catalog` +
        (active ? ` (the active key is ${active.id})` : '') +
        (current.status === 'destroyed'
          ? `: it can never encrypt again — set ${family === 'fernet' ? 'ENCRYPTION_KEY' : 'SECRETS_ENCRYPTION_KEY'} to a new key`
          : family === 'fernet'
            ? `: set ENCRYPTION_KEY to the active Fernet key ${active?.id ?? ''} (keys are named by fingerprint), or reactivate it with \`rekey keys activate ${primary}\``
            : `: to go back to it run \`rekey keys rollback --to ${primary}\`, or set the primary key to ${active?.id ?? 'the active key'}`),
    );
  }
  return steps;
}

function describeStep(step: Step, previous: string | undefined, preview: boolean): string {
  const demoted = previous && previous !== step.id ? `; ${previous} ${preview ? 'would become' : 'now'} rotating` : '';
  const tail = preview ? ' (not applied: dry run)' : '';
  switch (step.kind) {
    case 'register-rotating':
      return `${preview ? 'would register' : 'registered'} ${step.id} (rotating: decrypt only)${tail}`;
    case 'register-active':
      return `${preview ? 'would register' : 'registered'} ${step.id} (active)${demoted}${tail}`;
    case 'activate':
      return `${preview ? 'would activate' : 'activated'} ${step.id}${demoted}${tail}`;
  }
}

/** The KMS key behind a kms keyring's id: the catalog records it (and refuses a kms key without it). */
function kmsKeyOf(keyring: KeySource | Keyring, id: string): string | undefined {
  return keyring instanceof KmsKeyring ? keyring.kmsKeyIdOf(id) : undefined;
}
