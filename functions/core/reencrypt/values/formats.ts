import type { Mode } from './modes';
import type { ValueClass } from '../ports';
import type { RegistryTable } from '../config/registry';

/**
 * The format a table's application reads, declared per table in the registry
 * (`"format"`), and what "done" means in it. Rotation keeps a table's format:
 *
 * - `rk1` (default): rekey envelopes under the target KEK;
 * - `fernet`: Fernet tokens whose HMAC verifies under the primary Fernet key
 *   (ENCRYPTION_KEY), rotated with MultiFernet.rotate semantics;
 * - `json-key-id`: the runbook service's JSON envelopes whose `key_id` is the
 *   primary KEK (SECRETS_ENCRYPTION_KEY).
 *
 * `migrate` is the one mode that changes format: every table's values end as
 * rk1 envelopes whatever the table declares.
 */
export const VALUE_FORMATS = ['rk1', 'fernet', 'json-key-id'] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

/** Row error code: a value in another format than the table's, outside migrate mode. */
export const FOREIGN_FORMAT = 'FOREIGN_FORMAT';

export function isValueFormat(value: unknown): value is ValueFormat {
  return typeof value === 'string' && (VALUE_FORMATS as readonly string[]).includes(value);
}

/** The format a table's values end in under `mode`. */
export function targetFormat(table: Pick<RegistryTable, 'format'>, mode: Mode): ValueFormat {
  return mode === 'migrate' ? 'rk1' : (table.format ?? 'rk1');
}

/**
 * The job's target keys: `keyId` (a KEK: rk1 envelopes and JSON key_id values
 * share the `kek-vN` ids) and, when a Fernet table is in the job, the primary
 * Fernet key's catalog id, fixed when the job is created.
 */
export interface FormatTargets {
  readonly keyId: string;
  readonly fernetKeyId?: string | undefined;
}

/** The key a table's values must end under, in `mode`. A Fernet table without a Fernet target is a JobOptionsError earlier (createJob). */
export function targetKeyFor(table: Pick<RegistryTable, 'format'>, mode: Mode, targets: FormatTargets): string {
  return targetFormat(table, mode) === 'fernet' ? (targets.fernetKeyId ?? '(no fernet key)') : targets.keyId;
}

/** True when a value is NULL or, in `format`, under `target`. */
export function valueDoneIn(cls: ValueClass, target: string, format: ValueFormat): boolean {
  switch (cls.kind) {
    case 'null':
      return true;
    case 'envelope':
      return format === 'rk1' && cls.keyId === target;
    case 'fernet':
      return format === 'fernet' && cls.keyId === target;
    case 'json-key-id':
      return format === 'json-key-id' && cls.keyId === target;
    case 'plaintext':
      return false;
  }
}

/** Where a value's key id goes in counts: envelope and JSON ids as they are, Fernet tokens by key fingerprint. */
export function countedKeyId(cls: ValueClass): string | undefined {
  if (cls.kind === 'envelope') return cls.keyId;
  if (cls.kind === 'json-key-id') return cls.keyId ?? '(none)';
  if (cls.kind === 'fernet') return cls.keyId ?? '(fernet: no key configured)';
  return undefined;
}
