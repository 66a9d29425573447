import type { SqlParameter } from '@aws-sdk/client-rds-data';
import { DataApiLimitError } from './errors';

/** The Data API refuses an HTTP request over 4 MiB, headers and JSON notation included. */
export const DATA_API_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** The largest result one ExecuteStatement returns. */
export const DATA_API_MAX_RESPONSE_BYTES = 1024 * 1024;

/** The longest `sql` ExecuteStatement and BatchExecuteStatement accept (the API's length constraint), in characters. */
export const DATA_API_MAX_SQL_LENGTH = 65_536;

/** `sql` as is, or a DataApiLimitError before sending a statement the service would refuse for its length. */
export function checkSqlLength(sql: string, max = DATA_API_MAX_SQL_LENGTH): string {
  if (sql.length > max)
    throw new DataApiLimitError(
      `the statement is ${sql.length} characters long, more than the ${max} the Data API accepts: split it, or pass long values as parameters`,
    );
  return sql;
}

/** Room left for the HTTP request line and headers (SigV4 authorization, user agent, …: about 1.5 KiB in practice). */
const HEADER_ALLOWANCE_BYTES = 8 * 1024;

/**
 * Cuts parameter sets into BatchExecuteStatement requests whose serialized
 * size stays within `maxRequestBytes`, in order. `envelope` is the request
 * without its parameter sets; sizes are measured as the SDK sends them (JSON,
 * blobs base64). A single set that cannot fit is an error naming it.
 */
export function splitParameterSets(
  envelope: Record<string, unknown>,
  sets: readonly (readonly SqlParameter[])[],
  maxRequestBytes: number,
): SqlParameter[][][] {
  const fixed = jsonBytes({ ...envelope, parameterSets: [] }) + HEADER_ALLOWANCE_BYTES;
  const budget = maxRequestBytes - fixed;
  if (budget <= 0)
    throw new DataApiLimitError(`the batch statement alone is over the ${maxRequestBytes}-byte request limit`);
  const requests: SqlParameter[][][] = [];
  let current: SqlParameter[][] = [];
  let used = 0;
  sets.forEach((set, i) => {
    const size = jsonBytes(set) + 1; // and a comma
    if (size > budget) {
      throw new DataApiLimitError(
        `parameter set ${i + 1} takes ${size} bytes, more than the ${budget} a ${maxRequestBytes}-byte Data API request leaves for it`,
      );
    }
    if (used + size > budget && current.length > 0) {
      requests.push(current);
      current = [];
      used = 0;
    }
    current.push([...set]);
    used += size;
  });
  if (current.length > 0) requests.push(current);
  return requests;
}

/** UTF-8 length of the JSON the SDK would send: blobs as base64 strings. */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v,
  );
  return Buffer.byteLength(text, 'utf8');
}
