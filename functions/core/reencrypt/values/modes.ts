import type { RegistryTable } from '../config/registry';

/**
 * - `rewrap`: re-wrap each envelope's data key under the target key (no new ciphertext);
 * - `reencrypt`: new data key and ciphertext under the target key (the compromised-key path);
 * - `encrypt`: plaintext → envelope (in place, or source → target column with a blind index);
 * - `migrate`: legacy Fernet / JSON key_id values → envelopes.
 *
 * In every mode an envelope under another key is brought to the target key,
 * so every mode converges on one state: each encrypted column NULL or an
 * envelope under the target key.
 */
export const MODES = ['rewrap', 'reencrypt', 'encrypt', 'migrate'] as const;
export type Mode = (typeof MODES)[number];

export function isMode(value: unknown): value is Mode {
  return typeof value === 'string' && (MODES as readonly string[]).includes(value);
}

/** The columns a batch reads, writes and guards for one table in one mode. */
export interface ColumnSets {
  /** Encrypted columns (encrypt targets included). */
  readonly encrypted: readonly string[];
  /** Every column read besides id and tenant (encrypted, key id, blind index, sources). */
  readonly read: readonly string[];
  /** Columns the CAS update may set. Each is also compared against the value read. */
  readonly write: readonly string[];
  /** Columns read but never written: compared only (a changed source means the row changed). */
  readonly guard: readonly string[];
  /**
   * Blind index columns, by encrypted column. encrypt and migrate write them
   * with every value they encrypt; rewrap and reencrypt recompute one only
   * when it is missing or made with an older blind index key.
   */
  readonly blindIndex: Readonly<Record<string, string>>;
}

export function columnSets(table: RegistryTable, mode: Mode): ColumnSets {
  const write: string[] = [...table.columns];
  const guard: string[] = [];
  const blindIndex: Record<string, string> = { ...table.blindIndex };
  if (table.keyIdColumn) write.push(table.keyIdColumn);
  write.push(...Object.values(blindIndex));
  if (mode === 'encrypt') {
    for (const m of table.encrypt) (m.clearSource ? write : guard).push(m.source);
  }
  return { encrypted: table.columns, read: [...write, ...guard], write, guard, blindIndex };
}
