import { randomFillSync } from 'node:crypto';

/** Default pool size: 4 KiB serves ~73 encryptions (32-byte data key + two 12-byte nonces each) per refill. */
export const DEFAULT_RANDOM_POOL_BYTES = 4096;

/**
 * Randomness from the operating system's CSPRNG, fetched in blocks.
 *
 * `crypto.randomBytes(12)` costs about 2 µs a call here, nearly all of it
 * fixed overhead: one `randomFillSync` of the whole 4 KiB pool costs about the
 * same (~2.3 µs), after which a 12-byte draw costs ~0.1 µs (measured:
 * docs/performance.md). An encryption takes three draws (data key, wrap
 * nonce, data nonce), so this saves ~6 µs of a ~23 µs round trip. The bytes
 * are the same CSPRNG output either way.
 *
 * Bytes are copied out, never handed out as views, so a later refill can never
 * change a nonce or key a caller still holds; consumed bytes are zeroed in the
 * pool so a data key taken from it does not linger there.
 *
 * Node has no fork() that copies the heap (cluster and child_process start
 * fresh processes), so two processes never share a pool's contents.
 */
export class RandomPool {
  private readonly pool: Buffer;
  private offset: number;

  constructor(readonly size: number = DEFAULT_RANDOM_POOL_BYTES) {
    if (!Number.isInteger(size) || size < 64) {
      throw new RangeError(`random pool size must be an integer of at least 64 bytes, got ${size}`);
    }
    // allocUnsafeSlow: memory of its own, not a slice of Node's shared buffer slab.
    this.pool = Buffer.allocUnsafeSlow(size);
    this.offset = size; // empty: the first use fills it
  }

  /** Writes `length` random bytes into `target` at `offset` and returns `target`. */
  fill(target: Buffer, offset = 0, length = target.length - offset): Buffer {
    if (length > this.size / 4) {
      // Large requests go straight to the CSPRNG: pooling buys nothing there.
      randomFillSync(target, offset, length);
      return target;
    }
    if (this.offset + length > this.size) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += length;
    this.pool.copy(target, offset, start, this.offset);
    this.pool.fill(0, start, this.offset);
    return target;
  }

  /** A new buffer of `length` random bytes (its own memory, safe to zero and keep). */
  bytes(length: number): Buffer {
    return this.fill(Buffer.alloc(length));
  }
}

/** The process-wide pool the AEAD and the local keyrings draw nonces and data keys from. */
export const randomPool = new RandomPool();
