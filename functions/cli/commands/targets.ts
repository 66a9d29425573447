import { findTable } from '../../core/reencrypt/config/registry';
import type { EngineRuntime } from '../../runtime/engine-runtime';
import { UsageError } from '../io';

/** Every --table must be in the registry; a usage error names the known ones. */
export function checkTables(runtime: EngineRuntime, tables: readonly string[] | undefined): void {
  for (const name of tables ?? []) {
    if (!findTable(runtime.registry, name)) {
      throw new UsageError(
        `--table ${name}: not in the registry (known: ${runtime.registry.tables.map((t) => t.name).join(', ') || 'none'})`,
      );
    }
  }
}

/** The key a job moves to: --target-key, the tenant's own active key with --tenant, else the primary key. */
export async function requestedTarget(
  runtime: EngineRuntime,
  options: { readonly targetKey?: string; readonly tenant?: string },
): Promise<string> {
  if (options.targetKey) return options.targetKey;
  if (options.tenant === undefined) return runtime.primaryKeyId();
  // The catalog's own answer for this scope (the policy would fall back to the global key).
  const own = await runtime.catalog.active(options.tenant);
  if (!own) {
    throw new UsageError(
      `--tenant ${options.tenant}: the tenant has no active key of its own (rekey keys add <id> --tenant ${options.tenant}, then rekey keys activate <id>)`,
    );
  }
  return own.id;
}
