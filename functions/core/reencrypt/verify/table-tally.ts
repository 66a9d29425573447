import type { EncryptionContext } from '../../crypto/context';
import { RekeyError, isRetryable } from '../../errors';
import { mapLimit } from '../batches/map-limit';
import type { RegistryTable } from '../config/registry';
import type { LegacyKind, StoredValue, ValueCrypto } from '../ports';
import { countedKeyId, type ValueFormat } from '../values/formats';
import { valueDone, type RowValues } from '../values/transforms';
import type { TableVerify } from './verify';

const MAX_FAILED_IDS = 20;

/** A value verify decrypts (with `decrypt`): only counted, its plaintext zeroed at once. */
export interface ToDecrypt {
  readonly row: RowValues;
  readonly column: string;
  readonly value: StoredValue;
  readonly legacy?: LegacyKind;
}

/**
 * What verify counts over one table read row by row (verify.ts): values per
 * key and kind, rows on the target, plaintext sources waiting, and (with
 * `decrypt`) decryption failures by error code with the first failing row ids.
 */
export class TableTally {
  private rows = 0;
  private rowsOnTarget = 0;
  private rowsWithPlaintextSource = 0;
  private readonly envelopes: Record<string, number> = {};
  private readonly jsonKeyId: Record<string, number> = {};
  private fernet = 0;
  private readonly fernetByKey: Record<string, number> = {};
  private plaintext = 0;
  private nulls = 0;
  private readonly decrypt = {
    checked: 0,
    failed: 0,
    byCode: {} as Record<string, number>,
    failedRowIds: [] as string[],
  };

  constructor(
    private readonly table: RegistryTable,
    private readonly crypto: ValueCrypto,
    private readonly target: string,
    private readonly format: ValueFormat,
    private readonly decrypting: boolean,
  ) {}

  /** Counts one row's values; with `decrypt`, adds them to `toDecrypt`. */
  countRow(row: RowValues, toDecrypt: ToDecrypt[]): void {
    this.rows++;
    if (this.table.encrypt.some((m) => row.values[m.source] != null && (m.clearSource || row.values[m.target] == null)))
      this.rowsWithPlaintextSource++;
    let onTarget = true;
    for (const column of this.table.columns) {
      const value = row.values[column] ?? null;
      const cls = this.crypto.classify(value);
      if (!valueDone(cls, this.target, this.format)) onTarget = false;
      switch (cls.kind) {
        case 'null':
          this.nulls++;
          break;
        case 'envelope':
          this.envelopes[cls.keyId] = (this.envelopes[cls.keyId] ?? 0) + 1;
          if (this.decrypting) toDecrypt.push({ row, column, value: value! });
          break;
        case 'fernet': {
          this.fernet++;
          const k = countedKeyId(cls)!;
          this.fernetByKey[k] = (this.fernetByKey[k] ?? 0) + 1;
          if (this.decrypting) toDecrypt.push({ row, column, value: value!, legacy: 'fernet' });
          break;
        }
        case 'json-key-id': {
          const k = cls.keyId ?? '(none)';
          this.jsonKeyId[k] = (this.jsonKeyId[k] ?? 0) + 1;
          if (this.decrypting) toDecrypt.push({ row, column, value: value!, legacy: 'json-key-id' });
          break;
        }
        case 'plaintext':
          this.plaintext++;
          break;
      }
    }
    if (onTarget) this.rowsOnTarget++;
  }

  /** Decrypts a page's values, `concurrency` at a time, counting failures; a retryable error fails the verify. */
  async decryptAll(toDecrypt: readonly ToDecrypt[], concurrency: number): Promise<void> {
    if (toDecrypt.length === 0) return;
    const decrypt = this.decrypt;
    await mapLimit(toDecrypt, concurrency, async (item) => {
      decrypt.checked++;
      try {
        const context: EncryptionContext = {
          table: this.table.name,
          column: item.column,
          rowId: item.row.id,
          tenant: item.row.tenant,
        };
        const plain = item.legacy
          ? await this.crypto.decryptLegacy(item.value, item.legacy)
          : await this.crypto.decrypt(item.value, context);
        plain.fill(0);
      } catch (err) {
        if (isRetryable(err)) throw err;
        decrypt.failed++;
        const code = err instanceof RekeyError ? err.code : 'UNEXPECTED_ERROR';
        decrypt.byCode[code] = (decrypt.byCode[code] ?? 0) + 1;
        if (decrypt.failedRowIds.length < MAX_FAILED_IDS && !decrypt.failedRowIds.includes(item.row.id)) {
          decrypt.failedRowIds.push(item.row.id);
        }
      }
    });
  }

  /** The table's verify; `reportTarget` is the report's target key (a Fernet table names its own when it differs). */
  result(tableKey: string, reportTarget: string): TableVerify {
    const { format, target, rows, rowsOnTarget } = this;
    return {
      table: tableKey,
      ...(format === 'rk1' ? {} : { format }),
      ...(target === reportTarget ? {} : { targetKeyId: target }),
      rows,
      rowsOnTarget,
      rowsNotOnTarget: rows - rowsOnTarget,
      rowsWithPlaintextSource: this.rowsWithPlaintextSource,
      values: {
        envelopes: this.envelopes,
        fernet: this.fernet,
        fernetByKey: this.fernetByKey,
        jsonKeyId: this.jsonKeyId,
        plaintext: this.plaintext,
        null: this.nulls,
      },
      ...(this.decrypting ? { decrypt: this.decrypt } : {}),
    };
  }
}
