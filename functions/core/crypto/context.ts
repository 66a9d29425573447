/**
 * The encryption context binds a ciphertext to the place it is stored: a value
 * copied onto another row, column, table or tenant does not decrypt.
 */
export interface EncryptionContext {
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
  readonly tenant?: string | null;
}
