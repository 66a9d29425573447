import type { RegistryTable } from '../config/registry';

/**
 * Which rows a job may touch, by the row's tenant (the registry's
 * `tenantColumn`). A tenant's values must stay under that tenant's own key —
 * destroying it shreds exactly them — so:
 *
 * - a tenant job (`tenant`) covers that tenant's rows only, in tables that
 *   have a tenant column, and moves them to the tenant's active key;
 * - a global job covers every row except those of tenants that have their
 *   own active key (`exclude`): it never moves a tenant's rows to the global key.
 *
 * The scope is fixed when the job is created and kept in the job's options,
 * so every batch of the job, on any worker, applies the same one.
 */
export type RowScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'tenant'; readonly tenant: string }
  | { readonly kind: 'exclude'; readonly tenants: readonly string[] };

export const ALL_ROWS: RowScope = { kind: 'all' };

/** Job option names the scope is kept under (ids only). */
const OPTION_TENANT = 'tenant';
const OPTION_EXCLUDED = 'excludedTenants';

/** The scope of a job, for its tenant (null: global) and the tenants that have their own active key. */
export function scopeFor(tenant: string | null, tenantsWithOwnKey: readonly string[]): RowScope {
  if (tenant !== null) return { kind: 'tenant', tenant };
  const excluded = [...new Set(tenantsWithOwnKey)].sort();
  return excluded.length === 0 ? ALL_ROWS : { kind: 'exclude', tenants: excluded };
}

/** The scope as job options (`rekey_jobs.options`). */
export function scopeToOptions(scope: RowScope): Record<string, string> {
  if (scope.kind === 'tenant') return { [OPTION_TENANT]: scope.tenant };
  if (scope.kind === 'exclude') return { [OPTION_EXCLUDED]: JSON.stringify(scope.tenants) };
  return {};
}

/** The scope a job was created with (jobs from before scopes existed cover every row). */
export function scopeFromOptions(options: Readonly<Record<string, unknown>> | null | undefined): RowScope {
  const tenant = options?.[OPTION_TENANT];
  if (typeof tenant === 'string') return { kind: 'tenant', tenant };
  const excluded = options?.[OPTION_EXCLUDED];
  if (typeof excluded === 'string') {
    const tenants = JSON.parse(excluded) as unknown;
    if (Array.isArray(tenants) && tenants.every((t) => typeof t === 'string') && tenants.length > 0)
      return { kind: 'exclude', tenants };
  }
  return ALL_ROWS;
}

/** Whether a row with this tenant (null: no tenant column, or a NULL tenant) is the job's to touch. */
export function inScope(rowTenant: string | null, scope: RowScope): boolean {
  if (scope.kind === 'all') return true;
  if (scope.kind === 'tenant') return rowTenant === scope.tenant;
  return rowTenant === null || !scope.tenants.includes(rowTenant);
}

/**
 * Whether a table can be worked on under the scope: a tenant job needs the
 * table's tenant column to tell its rows; a table without one holds no
 * tenant's rows, so a tenant job leaves it out.
 */
export function tableInScope(table: Pick<RegistryTable, 'tenantColumn'>, scope: RowScope): boolean {
  return scope.kind !== 'tenant' || table.tenantColumn !== undefined;
}

/** For messages and audit: `tenant acme`, `every row except tenants a, b`, `every row`. */
export function describeScope(scope: RowScope): string {
  if (scope.kind === 'tenant') return `tenant ${JSON.stringify(scope.tenant)}`;
  if (scope.kind === 'exclude')
    return `every row except tenants with their own key (${scope.tenants.map((t) => JSON.stringify(t)).join(', ')})`;
  return 'every row';
}
