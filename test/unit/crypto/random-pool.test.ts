import { RandomPool } from '../../../functions/core/crypto/random-pool';

describe('RandomPool', () => {
  it('hands out copies: bytes a caller holds do not change when the pool refills', () => {
    const pool = new RandomPool(64);
    const first = pool.bytes(12);
    const kept = Buffer.from(first);
    for (let i = 0; i < 50; i++) pool.bytes(12); // many refills
    expect(first.equals(kept)).toBe(true);
  });

  it('never repeats a 12-byte nonce across refills (10,000 draws)', () => {
    const pool = new RandomPool(256);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(pool.bytes(12).toString('hex'));
    expect(seen.size).toBe(10_000);
  });

  it('writes at an offset without touching the bytes around it', () => {
    const target = Buffer.alloc(40, 0xaa);
    new RandomPool().fill(target, 10, 12);
    expect(target.subarray(0, 10).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(22).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(10, 22).equals(Buffer.alloc(12, 0xaa))).toBe(false);
  });

  it('serves requests larger than a quarter of the pool straight from the CSPRNG', () => {
    const pool = new RandomPool(64);
    const big = pool.bytes(1000);
    expect(big.length).toBe(1000);
    expect(new Set(big).size).toBeGreaterThan(100); // 1000 random bytes cover most byte values
  });

  it('zeroes the bytes it handed out, so a data key does not linger in the pool', () => {
    const pool = new RandomPool(64);
    pool.bytes(16); // fills the pool, takes bytes 0..15
    const inner = (pool as unknown as { pool: Buffer }).pool;
    expect(inner.subarray(0, 16).every((b) => b === 0)).toBe(true);
    expect(inner.subarray(16).every((b) => b === 0)).toBe(false);
  });

  it('refuses a pool too small to be useful', () => {
    expect(() => new RandomPool(8)).toThrow(RangeError);
  });
});
