import { scopeFromOptions, type RowScope } from '../batches/row-scope';

/**
 * Reading the columns of the job tables (migration 0002) as both drivers
 * return them: node-postgres parses bigint as text and jsonb as objects, the
 * Data API returns jsonb as text. Shared by the three table modules.
 */

export type Row = Record<string, unknown>;

export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
export const date = (v: unknown): Date | null =>
  v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));

/** Job option holding the primary Fernet key id of a job with Fernet tables. */
export const OPTION_FERNET_TARGET = 'fernetTargetKeyId';

/** jsonb arrives parsed from node-postgres and as text from the Data API. */
export function parseOptions(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') return JSON.parse(value) as Record<string, unknown>;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
}

/** What a job keeps in its options column that its batches need: the Fernet target (formats.ts) and the row scope (row-scope.ts). */
export function targetAndScopeFromOptions(raw: unknown): { fernetTargetKeyId?: string; scope: RowScope } {
  const options = parseOptions(raw);
  const id = options?.[OPTION_FERNET_TARGET];
  return { ...(typeof id === 'string' ? { fernetTargetKeyId: id } : {}), scope: scopeFromOptions(options) };
}
