import { RekeyError } from '../errors';
import type { KeyStatus } from '../crypto/key-policy';

/** Base of the key catalog's errors. None is retryable except a lost compare-and-swap race. */
export abstract class CatalogError extends RekeyError {}

export class InvalidKeyTransitionError extends CatalogError {
  readonly code = 'INVALID_KEY_TRANSITION';
  constructor(
    readonly keyId: string,
    readonly from: KeyStatus,
    readonly to: KeyStatus,
    allowed: readonly KeyStatus[],
  ) {
    super(
      `key ${JSON.stringify(keyId)} cannot go from ${from} to ${to}` +
        (allowed.length > 0 ? ` (from ${from} it can go to: ${allowed.join(', ')})` : ` (${from} is final)`),
    );
  }
}

export class CatalogKeyNotFoundError extends CatalogError {
  readonly code = 'CATALOG_KEY_NOT_FOUND';
  constructor(readonly keyId: string) {
    super(`key ${JSON.stringify(keyId)} is not in the catalog (rekey_keys): add it with \`rekey keys add\``);
  }
}

export class KeyAlreadyExistsError extends CatalogError {
  readonly code = 'KEY_EXISTS';
  constructor(readonly keyId: string) {
    super(`key ${JSON.stringify(keyId)} is already in the catalog`);
  }
}

/** Bad input to the catalog (malformed id, tenant, keyring kind); lists every problem. */
export class CatalogInputError extends CatalogError {
  readonly code = 'CATALOG_INPUT';
  constructor(readonly problems: readonly string[]) {
    super(`invalid key: ${problems.join('; ')}`);
  }
}

/** The key changed under us (another process moved it first): re-read and decide again. */
export class KeyChangedConcurrentlyError extends CatalogError {
  readonly code = 'KEY_CHANGED_CONCURRENTLY';
  override readonly retryable = true;
  constructor(
    readonly keyId: string,
    readonly expected: KeyStatus,
  ) {
    super(`key ${JSON.stringify(keyId)} is no longer ${expected}: another process changed it; re-read and retry`);
  }
}

/** A key added as `active` in a scope that already has one: the database allows one active key per tenant scope. */
export class ActiveKeyExistsError extends CatalogError {
  readonly code = 'ACTIVE_KEY_EXISTS';
  constructor(
    readonly keyId: string,
    readonly tenant: string | null,
    readonly activeKeyId: string,
  ) {
    super(
      `key ${JSON.stringify(keyId)} cannot be added as active: ${tenant === null ? 'the global scope' : `tenant ${JSON.stringify(tenant)}`} ` +
        `already has active key ${JSON.stringify(activeKeyId)}; add it as pending and activate it (\`rekey keys activate\`)`,
    );
  }
}
