import { RekeyError } from '../../errors';
import { DatabaseError } from '../../ports/sql-errors';

/** Longest error text kept with a failed batch (status and the state machine show it). */
const BATCH_ERROR_CHARS = 300;

/**
 * What a failed batch records: enough to act on (`QueryError 22001: value too
 * long for type character varying(64)`), nothing that can hold a value.
 * rekey's own errors never carry plaintext or key material (the database
 * adapters drop DETAIL and quoted input), so their message is kept; any
 * other error keeps only its name.
 */
export function batchErrorText(err: unknown): string {
  if (err instanceof DatabaseError) return clip(`${err.name} ${err.sqlState ?? err.code}: ${err.message}`);
  if (err instanceof RekeyError) return clip(`${err.name} ${err.code}: ${err.message}`);
  return err instanceof Error ? err.name : 'error';
}

function clip(text: string): string {
  return text.length > BATCH_ERROR_CHARS ? `${text.slice(0, BATCH_ERROR_CHARS - 1)}…` : text;
}
