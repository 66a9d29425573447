import type { PlanSettings, TableCounts } from '../../../../functions/core/plan/estimate';
import { kmsQuota } from '../../../../functions/core/plan/kms-quotas';
import { operationsOfPendingRows } from '../../../../functions/core/plan/operations';
import { DEFAULT_PRICES } from '../../../../functions/core/plan/prices';
import type { Throughput } from '../../../../functions/core/plan/throughput';

/** A measured throughput, as the job history would give it. */
export const throughput = (rowsPerSecond: number, scanRowsPerSecond = 100_000): Throughput => ({
  rowsPerSecond,
  scanRowsPerSecond,
  source: 'history',
  basis: 'test',
  jobIds: [],
});

/** Plan settings for a raw-keyring rewrap in us-east-1 at the default prices; each suite overrides what it tests. */
export function planSettings(over: Partial<PlanSettings> = {}): PlanSettings {
  return {
    mode: 'rewrap',
    keyring: 'raw',
    targetKeyId: 'kek-v2',
    runner: 'cli',
    batchSize: 2000,
    concurrency: 1,
    kmsQuota: kmsQuota('us-east-1'),
    prices: DEFAULT_PRICES,
    throughput: throughput(20_000),
    keysetKeys: 2,
    keysetTtlSeconds: 300,
    counted: 'inventory',
    ...over,
  };
}

/** A table whose rows all still need `mode`, cut into batches of `batch`. */
export const pendingTable = (
  name: string,
  rows: number,
  mode: PlanSettings['mode'] = 'rewrap',
  batch = 2000,
): TableCounts => ({
  table: name,
  rowsTotal: rows,
  rowsPending: rows,
  batches: Math.ceil(rows / batch),
  operations: operationsOfPendingRows(mode, rows),
});
