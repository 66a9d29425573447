import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../crypto/envelope-cipher';
import { RawKeyring } from '../crypto/keyrings/raw';
import { StaticKeyPolicy } from '../crypto/key-policy';

/**
 * One core's rewraps per second in docs/performance.md (bench:crypto, 150-byte
 * value, 2026-11-22): the machine the default throughput figures were
 * measured on.
 */
export const REFERENCE_REWRAPS_PER_SECOND = 75_948;
/** Measurement slices of a probe; their median is its figure. */
const PROBE_SLICES = 5;
/** Rewraps before measuring: past V8's tier-up of the rewrap path (≈ 2,500 calls measured). */
const WARMUP_REWRAPS = 5000;

/** How fast this machine is right now against the reference, as a factor (0.1 = ten times slower). */
export interface SpeedProbe {
  readonly factor: number;
  readonly rewrapsPerSecond: number;
}

/**
 * Rewraps throwaway 150-byte values (random keys, no data of anyone's) for
 * about `millis` ms (a second: on a shared machine the speed swings 3× between
 * 200 ms slices, docs/performance.md) after a warm-up of WARMUP_REWRAPS, and compares the
 * median rate of five slices with the reference machine's. A
 * plan with no job history scales its defaults by it: a loaded machine (or a
 * slower one) rotates slower by about as much as it rewraps slower. Clamped
 * to [0.02, 2].
 */
export async function probeSpeed(millis = 1000): Promise<SpeedProbe> {
  const keyring = new RawKeyring([
    { id: 'probe-v2', key: randomBytes(32) },
    { id: 'probe-v1', key: randomBytes(32) },
  ]);
  const ctx = { table: 'probe', column: 'value', rowId: '1' };
  const old = new EnvelopeCipher({ keyring, policy: new StaticKeyPolicy([{ id: 'probe-v1', status: 'active' }]) });
  const value = await old.encrypt('x'.repeat(150), ctx);
  const cipher = new EnvelopeCipher({
    keyring,
    policy: new StaticKeyPolicy([
      { id: 'probe-v2', status: 'active' },
      { id: 'probe-v1', status: 'rotating' },
    ]),
  });
  // A fresh process rewraps ~10× slower until V8 has optimized the path, which takes a count of calls, not a time
  // (measured at load 10: ~5,000/s for the first 500 ms, then 20–50k/s): warm up by count, then take the median of five slices.
  for (let i = 0; i < WARMUP_REWRAPS; i++) await cipher.rewrap(value, ctx, 'probe-v2');
  const rates: number[] = [];
  for (let slice = 0; slice < PROBE_SLICES; slice++) {
    let ops = 0;
    const start = performance.now();
    while (performance.now() - start < millis / PROBE_SLICES) {
      for (let i = 0; i < 50; i++) await cipher.rewrap(value, ctx, 'probe-v2');
      ops += 50;
    }
    rates.push(ops / ((performance.now() - start) / 1000));
  }
  const rewrapsPerSecond = median(rates);
  return { rewrapsPerSecond, factor: Math.min(2, Math.max(0.02, rewrapsPerSecond / REFERENCE_REWRAPS_PER_SECOND)) };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
