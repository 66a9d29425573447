import { LateWritersError } from '../../readers/errors';
import type { KeyLifecycle } from '../ports';
import { valuesNeedingKey } from './key-counts';
import type { VerifyReport } from './verify';

/**
 * Safe retirement: a `rotating` key becomes `retired` only when a verify over
 * EVERY registered table counts zero values under it. A key that still has
 * values stays `rotating` (and so keeps decrypting); the caller reports it.
 */

export interface RetireResult {
  readonly retired: readonly string[];
  /** Rotating keys left as they are, with the values still under them (or the live readers that still encrypt with them). */
  readonly kept: readonly {
    readonly keyId: string;
    readonly values: number;
    readonly lateWriters?: readonly string[];
  }[];
}

export async function retireVerifiedKeys(
  deps: { readonly catalog: KeyLifecycle },
  fullReport: Pick<VerifyReport, 'keys'>,
  actor: string,
  context: Readonly<Record<string, unknown>> = {},
): Promise<RetireResult> {
  const keys = await deps.catalog.list();
  const retired: string[] = [];
  const kept: { keyId: string; values: number; lateWriters?: readonly string[] }[] = [];
  for (const key of keys) {
    if (key.status !== 'rotating') continue;
    // Fernet keys also count tokens no configured key verifies (they cannot be attributed).
    const values = valuesNeedingKey(fullReport, key.id);
    if (values > 0) {
      kept.push({ keyId: key.id, values });
      continue;
    }
    // The catalog writes the key.retired audit row, in the same transaction as the change.
    try {
      await deps.catalog.transition(key.id, 'retired', actor, { ...context, valuesUnderKey: 0 });
    } catch (err) {
      // A live reader still encrypts with it: retired later, once that reader has moved to the new key.
      if (err instanceof LateWritersError) {
        kept.push({ keyId: key.id, values, lateWriters: err.writers.map((w) => w.readerId) });
        continue;
      }
      // Two runners finishing the same job both retire: the one that lost finds the key retired, which is what it wanted.
      const now = (await deps.catalog.list()).find((k) => k.id === key.id);
      if (now?.status !== 'retired') throw err;
    }
    retired.push(key.id);
  }
  return { retired, kept };
}
