import { isFernetKeyId, KEY_STATUSES, type KeyStatus } from '../crypto/key-policy';
import { CATALOG_KEYRING_KINDS, type CatalogKeyringKind } from '../keyring-kinds';
import { CatalogInputError } from './errors';

const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export interface NewCatalogKey {
  readonly id: string;
  readonly keyring: CatalogKeyringKind;
  readonly kmsKeyArn?: string | null;
  readonly tenant?: string | null;
  /**
   * Initial status. New keys start `pending` and become active through
   * `activate`; importing keys that already exist elsewhere (a keyring from
   * the environment) may register them as they are.
   * @default 'pending'
   */
  readonly status?: KeyStatus;
}

/** Every problem of a new key at once, in one CatalogInputError. */
export function validateNewKey(key: NewCatalogKey): void {
  const problems: string[] = [];
  if (typeof key.id !== 'string' || !KEY_ID_PATTERN.test(key.id)) {
    problems.push(
      `id ${JSON.stringify(key.id)} must be 1-128 characters of letters, digits, . _ : - starting with a letter or digit`,
    );
  }
  if (!CATALOG_KEYRING_KINDS.includes(key.keyring)) {
    problems.push(`keyring ${JSON.stringify(key.keyring)} must be one of ${CATALOG_KEYRING_KINDS.join(', ')}`);
  }
  if (key.keyring === 'kms' && !key.kmsKeyArn) problems.push('a kms key needs kmsKeyArn');
  if (typeof key.id === 'string' && (key.keyring === 'fernet') !== isFernetKeyId(key.id)) {
    problems.push(
      `a Fernet key's id starts with "fernet:" and only a Fernet key's does (id ${JSON.stringify(key.id)}, keyring ${key.keyring})`,
    );
  }
  if (key.keyring === 'fernet' && key.tenant != null) problems.push('Fernet keys are global: no tenant');
  if (key.tenant !== undefined && key.tenant !== null && (key.tenant.length < 1 || key.tenant.length > 128)) {
    problems.push('tenant must be 1-128 characters (or null for the global scope)');
  }
  if (key.status !== undefined && !KEY_STATUSES.includes(key.status)) {
    problems.push(`status ${JSON.stringify(key.status)} must be one of ${KEY_STATUSES.join(', ')}`);
  }
  if (problems.length > 0) throw new CatalogInputError(problems);
}
