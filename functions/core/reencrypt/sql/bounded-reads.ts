import type { SqlLimits, SqlResult } from '../../ports/sql';
import { ResultTooLargeError } from '../../ports/sql-errors';

/**
 * Statement sizing for transports with limits (the Data API: 1 MiB per result,
 * 4 MiB per request). The engine's batches are sized in rows for throughput;
 * with large values a batch of rows can pass a byte limit, so reads are paged
 * and writes chunked by the bytes the rows actually hold. Without limits
 * (node-postgres) a batch stays one read and one write.
 */

/** Share of a limit a statement is sized to fill: the estimate counts the data, not every byte of the transport's framing. */
const HEADROOM = 0.5;
/** Rows of the first page under a limit, before any row's width is known: small enough that ordinary rows fit. */
const PROBE_ROWS = 100;
/** Framing per value in a Data API response or JSON array parameter (field object, type tag, quotes, separators). */
const PER_VALUE_BYTES = 48;

/** Bytes a value takes on the wire, roughly: text as UTF-8, binary as base64, plus framing. */
export function estimateValueBytes(value: unknown): number {
  if (value === null || value === undefined) return PER_VALUE_BYTES;
  if (Buffer.isBuffer(value)) return Math.ceil(value.length / 3) * 4 + PER_VALUE_BYTES;
  if (typeof value === 'string') return Buffer.byteLength(value) + PER_VALUE_BYTES;
  return String(value).length + PER_VALUE_BYTES;
}

export function estimateRowBytes(row: Readonly<Record<string, unknown>>): number {
  let bytes = 0;
  for (const key of Object.keys(row)) bytes += key.length + estimateValueBytes(row[key]);
  return bytes;
}

/**
 * The page size of a walk over rows of unknown size. Without limits it is the
 * requested size. Under a response limit it starts with a probe of at most
 * 100 rows, then asks for as many rows as the limit allows for the widest
 * row seen so far (never more than requested), and halves (for the rest of
 * the walk) when the transport still refuses a page as too large.
 */
export class PageSizer {
  private ceiling: number;
  private size: number;

  constructor(
    private readonly limits: SqlLimits | undefined,
    readonly requested: number,
  ) {
    if (!Number.isInteger(requested) || requested < 1)
      throw new RangeError(`page size must be a positive integer, got ${requested}`);
    this.ceiling = requested;
    this.size = limits ? Math.min(requested, PROBE_ROWS) : requested;
  }

  /** Rows the next page asks for. */
  get current(): number {
    return this.size;
  }

  /**
   * Runs `read` for `current` rows and returns the rows with the limit they
   * were read under (fewer rows than `limit`: the walk is over). A refused
   * page is read again at half the size; a single row too large is an error.
   */
  async read<Row extends Record<string, unknown>>(
    read: (limit: number) => Promise<SqlResult<Row>>,
  ): Promise<{ rows: Row[]; limit: number }> {
    for (;;) {
      const limit = this.size;
      try {
        const { rows } = await read(limit);
        this.observe(rows);
        return { rows, limit };
      } catch (err) {
        if (!(err instanceof ResultTooLargeError) || limit <= 1) throw err;
        this.ceiling = Math.max(1, Math.floor(limit / 2));
        this.size = this.ceiling;
      }
    }
  }

  private observe(rows: readonly Record<string, unknown>[]): void {
    if (!this.limits || rows.length === 0) return;
    let widest = 0;
    for (const row of rows) widest = Math.max(widest, estimateRowBytes(row));
    const fits = Math.max(1, Math.floor((this.limits.maxResponseBytes * HEADROOM) / widest));
    this.size = Math.min(this.ceiling, fits);
  }
}

/**
 * Splits `items` into runs whose estimated bytes stay within the request
 * limit (one run when there is no limit). An item larger than the budget
 * gets a run of its own; the transport then says what is too large.
 */
export function chunkByBytes<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  limits: SqlLimits | undefined,
): T[][] {
  if (!limits || items.length === 0) return items.length === 0 ? [] : [[...items]];
  const budget = limits.maxRequestBytes * HEADROOM;
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (current.length > 0 && bytes + size > budget) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  chunks.push(current);
  return chunks;
}
