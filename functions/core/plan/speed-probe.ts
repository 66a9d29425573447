import { randomBytes } from 'node:crypto';
import { EnvelopeCipher } from '../crypto/envelope-cipher';
import { RawKeyring } from '../crypto/keyrings/raw';
import { StaticKeyPolicy } from '../keys/policy';

/**
 * One core's rewraps per second in docs/performance.md (bench:crypto, 150-byte
 * value, 2026-11-22): the machine the default throughput figures were
 * measured on.
 */
export const REFERENCE_REWRAPS_PER_SECOND = 75_948;

/** How fast this machine is right now against the reference, as a factor (0.1 = ten times slower). */
export interface SpeedProbe {
  readonly factor: number;
  readonly rewrapsPerSecond: number;
}

/**
 * Rewraps throwaway 150-byte values (random keys, no data of anyone's) for
 * about `millis` ms and compares the rate with the reference machine's. A
 * plan with no job history scales its defaults by it: a loaded machine (or a
 * slower one) rotates slower by about as much as it rewraps slower. Clamped
 * to [0.02, 2].
 */
export async function probeSpeed(millis = 200): Promise<SpeedProbe> {
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
  for (let i = 0; i < 50; i++) await cipher.rewrap(value, ctx, 'probe-v2'); // warm-up
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < millis) {
    for (let i = 0; i < 50; i++) await cipher.rewrap(value, ctx, 'probe-v2');
    ops += 50;
  }
  const rewrapsPerSecond = ops / ((performance.now() - start) / 1000);
  return { rewrapsPerSecond, factor: Math.min(2, Math.max(0.02, rewrapsPerSecond / REFERENCE_REWRAPS_PER_SECOND)) };
}
