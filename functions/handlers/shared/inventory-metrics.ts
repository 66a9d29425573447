import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { KeyCatalog } from '../../core/keys/catalog';
import { INVENTORY_DIMENSIONS, MetricNames } from '../../core/metrics-names';
import type { verify } from '../../core/reencrypt/verify/verify';
import { metrics } from './powertools';

type VerifyReport = Awaited<ReturnType<typeof verify>>;

/** RowsOnKey per table and key, for every format: envelopes, JSON key_id values and Fernet tokens (by key fingerprint). */
export function publishRowsOnKey(report: VerifyReport): void {
  for (const table of report.tables) {
    const perKey = [table.values.envelopes, table.values.jsonKeyId, table.values.fernetByKey ?? {}].flatMap((counts) =>
      Object.entries(counts),
    );
    for (const [keyId, count] of perKey) {
      const m = metrics.singleMetric();
      m.addDimensions({ [INVENTORY_DIMENSIONS.table]: table.table, [INVENTORY_DIMENSIONS.keyId]: keyId });
      m.addMetric(MetricNames.RowsOnKey, MetricUnit.Count, count);
    }
  }
}

/** RowsOnOverdueRetiringKeys: rows still under keys `rotating` for longer than `graceDays`. Returns the count. */
export async function publishOverdueRows(
  report: VerifyReport,
  catalog: KeyCatalog,
  graceDays: number,
  now = Date.now(),
): Promise<number> {
  const cutoff = now - graceDays * 86_400_000;
  const overdue = (await catalog.list({ status: 'rotating' })).filter((k) => (k.rotatedAt?.getTime() ?? 0) < cutoff);
  const overdueRows = overdue.reduce((sum, k) => sum + (report.keys[k.id] ?? 0), 0);
  metrics.addMetric(MetricNames.RowsOnOverdueRetiringKeys, MetricUnit.Count, overdueRows);
  return overdueRows;
}
