import type { EncryptionContext } from '../../crypto/context';
import { NoLegacyWriterError } from '../errors';
import { FOREIGN_FORMAT, type ValueFormat } from './formats';
import type { StoredValue, ValueCrypto } from '../ports';
import type { RegistryTable } from '../config/registry';
import type { StorageForm } from '../sql/table-shape';
import type { ColumnError } from './transforms';

/** How the engine writes a value in a table's format, and the row error for a value in another one. */

/** A value whose format is not the table's: recorded, never converted outside migrate mode. */
export function foreignFormat(table: RegistryTable, column: string, what: string, format: ValueFormat): ColumnError {
  return {
    column,
    code: FOREIGN_FORMAT,
    message: `${table.name}.${column} holds ${what} but the table's format is ${format}, which its application reads: fix the value or the registry's "format" (--mode migrate converts a table to rk1)`,
  };
}

export function legacyWriter(crypto: ValueCrypto): NonNullable<ValueCrypto['encryptLegacy']> {
  if (!crypto.encryptLegacy)
    throw new NoLegacyWriterError(
      'this engine cannot write Fernet or JSON key_id values (no legacy writer configured)',
    );
  return crypto.encryptLegacy.bind(crypto);
}

/** A new value in the table's format: an rk1 envelope, or a Fernet / JSON key_id value (text; its UTF-8 bytes in a bytea column). */
export async function encryptAs(
  crypto: ValueCrypto,
  format: ValueFormat,
  plaintext: Buffer,
  context: EncryptionContext,
  target: string,
  form: StorageForm,
): Promise<StoredValue> {
  if (format === 'rk1') return crypto.encrypt(plaintext, context, target, form);
  return inForm(await legacyWriter(crypto)(plaintext, format, target), form);
}

export function inForm(text: string, form: StorageForm): StoredValue {
  return form === 'text' ? text : Buffer.from(text, 'utf8');
}
