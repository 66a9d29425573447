import type { KeyRange } from '../sql/statements';

/** A keyset range of a table and the pending rows planning counted in it. */
export type PlannedRange = KeyRange & { readonly rows: number };

/**
 * Cuts a stream of pending row ids (in id order) into ranges of `batchSize`.
 * The first range starts at the table's beginning and the last is open-ended,
 * so together they cover every id (and rows inserted after planning, whose
 * ids sort last, fall into the last batch).
 */
export class RangeCutter {
  private readonly ranges: PlannedRange[] = [];
  private lo: string | null = null;
  private count = 0;

  constructor(private readonly batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }

  /** One more pending row, ids strictly increasing. */
  add(id: string): void {
    this.count++;
    if (this.count === this.batchSize) this.boundary(id);
  }

  /** The id of every batch-size-th pending row, as the window query returns them. */
  boundary(id: string): void {
    this.ranges.push({ lo: this.lo, hi: id, rows: this.batchSize });
    this.lo = id;
    this.count = 0;
  }

  /** Adds the rows after the last boundary (`remaining`, when counted elsewhere). */
  finish(remaining: number = this.count): PlannedRange[] {
    if (remaining > 0) this.ranges.push({ lo: this.lo, hi: null, rows: remaining });
    else if (this.ranges.length > 0) {
      const last = this.ranges[this.ranges.length - 1]!;
      this.ranges[this.ranges.length - 1] = { ...last, hi: null };
    }
    return this.ranges;
  }
}

/** Ranges from the boundaries of the window query and the number of pending rows. */
export function rangesFromBoundaries(
  boundaries: readonly string[],
  pending: number,
  batchSize: number,
): PlannedRange[] {
  const cutter = new RangeCutter(batchSize);
  for (const b of boundaries) cutter.boundary(b);
  return cutter.finish(pending - boundaries.length * batchSize);
}
