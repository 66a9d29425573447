import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { INVENTORY_DIMENSIONS, MetricNames } from '../core/metrics-names';
import { verify } from '../core/reencrypt/verify/verify';
import { rekeyHandler } from './shared/handler';
import { metrics } from './shared/powertools';
import { containerRuntime } from './shared/runtime';

export interface InventoryEvent {
  readonly source?: string;
}

/**
 * Daily inventory (EventBridge Scheduler): rows per key version per table as
 * RowsOnKey, and RowsOnOverdueRetiringKeys — values still under a key that
 * has been `rotating` longer than RETIRING_KEY_GRACE_DAYS.
 */
export const handler = rekeyHandler('Inventory', async (_event: InventoryEvent) => {
  const runtime = await containerRuntime();
  await runtime.refreshPolicy();
  const report = await verify(runtime.deps, {
    targetKeyId: runtime.primaryKeyId(),
    fernetTargetKeyId: runtime.fernetPrimaryKeyId(),
  });
  for (const table of report.tables) {
    // Every format: envelopes, JSON key_id values and Fernet tokens (by key fingerprint) per key.
    const perKey = [table.values.envelopes, table.values.jsonKeyId, table.values.fernetByKey ?? {}].flatMap((counts) =>
      Object.entries(counts),
    );
    for (const [keyId, count] of perKey) {
      const m = metrics.singleMetric();
      m.addDimensions({ [INVENTORY_DIMENSIONS.table]: table.table, [INVENTORY_DIMENSIONS.keyId]: keyId });
      m.addMetric(MetricNames.RowsOnKey, MetricUnit.Count, count);
    }
  }
  const graceDays = Number(process.env.RETIRING_KEY_GRACE_DAYS ?? '7');
  const cutoff = Date.now() - graceDays * 86_400_000;
  const overdue = (await runtime.catalog.list({ status: 'rotating' })).filter(
    (k) => (k.rotatedAt?.getTime() ?? 0) < cutoff,
  );
  const overdueRows = overdue.reduce((sum, k) => sum + (report.keys[k.id] ?? 0), 0);
  metrics.addMetric(MetricNames.RowsOnOverdueRetiringKeys, MetricUnit.Count, overdueRows);
  return { tables: report.tables.length, keys: report.keys, overdueRows };
});
