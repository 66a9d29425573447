import { verify } from '../core/reencrypt/verify/verify';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { retiringKeyGraceDays } from '../runtime/pipeline-settings';
import { rekeyHandler } from './shared/handler';
import { publishOverdueRows, publishRowsOnKey } from './shared/inventory-metrics';

export interface InventoryEvent {
  readonly source?: string;
}

/**
 * Daily inventory (EventBridge Scheduler): rows per key version per table as
 * RowsOnKey, and RowsOnOverdueRetiringKeys — values still under a key that
 * has been `rotating` longer than RETIRING_KEY_GRACE_DAYS.
 */
export const handler = rekeyHandler('Inventory', async (_event: InventoryEvent) => {
  const runtime = await pipelineRuntime();
  await runtime.refreshPolicy();
  const report = await verify(runtime.deps, {
    targetKeyId: runtime.primaryKeyId(),
    fernetTargetKeyId: runtime.fernetPrimaryKeyId(),
  });
  publishRowsOnKey(report);
  const overdueRows = await publishOverdueRows(report, runtime.catalog, retiringKeyGraceDays());
  return { tables: report.tables.length, keys: report.keys, overdueRows };
});
