import {
  chunkByBytes,
  estimateRowBytes,
  estimateValueBytes,
  PageSizer,
} from '../../../../functions/core/reencrypt/sql/bounded-reads';
import { QueryError, ResultTooLargeError } from '../../../../functions/core/ports/sql-errors';

const LIMITS = { maxRequestBytes: 4000, maxResponseBytes: 10_000 };
const rowsOf = (n: number, width: number): Record<string, unknown>[] =>
  Array.from({ length: n }, (_, i) => ({ id: String(i), v: 'x'.repeat(width) }));

describe('estimates', () => {
  it('counts text as UTF-8, binary as base64, and framing per value', () => {
    expect(estimateValueBytes('abc') - estimateValueBytes('')).toBe(3);
    expect(estimateValueBytes('é') - estimateValueBytes('')).toBe(2);
    expect(estimateValueBytes(Buffer.alloc(30)) - estimateValueBytes('')).toBe(40);
    expect(estimateValueBytes(null)).toBe(estimateValueBytes(''));
    expect(estimateRowBytes({ id: '1', v: 'abcd' })).toBe(2 + estimateValueBytes('1') + 1 + estimateValueBytes('abcd'));
  });
});

describe('PageSizer', () => {
  it('keeps the requested size without transport limits', async () => {
    const pages = new PageSizer(undefined, 500);
    const page = await pages.read(async (limit) => ({ rows: rowsOf(limit, 10_000), rowCount: limit }));
    expect(page.limit).toBe(500);
    expect(pages.current).toBe(500);
  });

  it('shrinks the next page to what the response limit allows for the widest row seen', async () => {
    const limits = { maxRequestBytes: 4000, maxResponseBytes: 100_000 };
    const pages = new PageSizer(limits, 300);
    // A probe first: no row's width is known yet.
    const first = await pages.read(async (limit) => ({
      rows: [...rowsOf(limit - 1, 10), { id: 'w', v: 'x'.repeat(2000) }],
      rowCount: limit,
    }));
    expect(first.limit).toBe(100);
    const widest = estimateRowBytes({ id: 'w', v: 'x'.repeat(2000) });
    expect(pages.current).toBe(Math.floor((limits.maxResponseBytes * 0.5) / widest));
    expect(pages.current).toBeLessThan(100);
    // Narrow rows again: up to the requested size, never past it.
    await pages.read(async (limit) => ({ rows: rowsOf(limit, 1), rowCount: limit }));
    expect(pages.current).toBe(300);
  });

  it('halves and reads again when the transport refuses a page, and stays at most that size', async () => {
    const pages = new PageSizer(LIMITS, 64);
    expect(pages.current).toBe(64);
    const asked: number[] = [];
    const page = await pages.read(async (limit) => {
      asked.push(limit);
      if (limit > 16) throw new ResultTooLargeError('too large');
      return { rows: rowsOf(limit, 1), rowCount: limit };
    });
    expect(asked).toEqual([64, 32, 16]);
    expect(page.limit).toBe(16);
    await pages.read(async (limit) => ({ rows: rowsOf(limit, 1), rowCount: limit }));
    expect(pages.current).toBe(16);
  });

  it('gives up when a single row is too large', async () => {
    const pages = new PageSizer(LIMITS, 4);
    const asked: number[] = [];
    const err = await pages
      .read(async (limit) => {
        asked.push(limit);
        throw new ResultTooLargeError('too large');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultTooLargeError);
    expect(asked).toEqual([4, 2, 1]);
  });

  it('passes any other error through at once', async () => {
    const pages = new PageSizer(LIMITS, 8);
    let calls = 0;
    await expect(
      pages.read(async () => {
        calls++;
        throw new QueryError('syntax');
      }),
    ).rejects.toBeInstanceOf(QueryError);
    expect(calls).toBe(1);
  });

  it('rejects a page size that is not a positive integer', () => {
    expect(() => new PageSizer(undefined, 0)).toThrow(/page size must be a positive integer, got 0/);
    expect(() => new PageSizer(undefined, 1.5)).toThrow(/page size/);
  });
});

describe('chunkByBytes', () => {
  it('is one chunk without limits, none for no items', () => {
    expect(chunkByBytes([1, 2, 3], () => 1e9, undefined)).toEqual([[1, 2, 3]]);
    expect(chunkByBytes([], () => 1, LIMITS)).toEqual([]);
  });

  it('keeps every chunk within half the request limit, in order', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const chunks = chunkByBytes(items, () => 300, LIMITS);
    expect(chunks.flat()).toEqual(items);
    for (const c of chunks) expect(c.length * 300).toBeLessThanOrEqual(LIMITS.maxRequestBytes / 2);
    expect(chunks).toHaveLength(4);
  });

  it('gives an item larger than the budget a chunk of its own', () => {
    expect(chunkByBytes(['a', 'huge', 'b'], (s) => (s === 'huge' ? 10_000 : 100), LIMITS)).toEqual([
      ['a'],
      ['huge'],
      ['b'],
    ]);
  });
});
