import type { Sql } from '../ports/sql';

/** One audit event: who did what to which key or job. Ids and counts only, never values or key material. */
export interface AuditEvent {
  readonly actor: string;
  /** `<subject type>.<verb>`, e.g. `key.activated`, `job.aborted`. */
  readonly action: string;
  /** e.g. `key:kek-v2`, `job:<uuid>`. */
  readonly subject: string;
  readonly tenant?: string | null;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord extends AuditEvent {
  readonly id: string;
  readonly at: Date;
  readonly tenant: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * The audit log (`rekey_audit_log`). `record` takes the Sql to write with, so
 * an event commits or rolls back with the change it describes.
 */
export class AuditLog {
  constructor(private readonly sql: Sql) {}

  async record(sql: Sql, event: AuditEvent): Promise<void> {
    await sql.query(
      'INSERT INTO rekey_audit_log (actor, action, subject, tenant, details) VALUES ($1, $2, $3, $4, $5)',
      [
        event.actor,
        event.action,
        event.subject,
        event.tenant ?? null,
        (event.details ?? {}) as Record<string, unknown>,
      ],
    );
  }

  async list(
    filter: { readonly subject?: string; readonly action?: string; readonly limit?: number } = {},
  ): Promise<AuditRecord[]> {
    const { rows } = await this.sql.query<{
      id: string;
      at: Date | string;
      actor: string;
      action: string;
      subject: string;
      tenant: string | null;
      details: Record<string, unknown> | string;
    }>(
      `SELECT id, at, actor, action, subject, tenant, details FROM rekey_audit_log
        WHERE ($1::text IS NULL OR subject = $1) AND ($2::text IS NULL OR action = $2)
        ORDER BY id DESC LIMIT $3`,
      [filter.subject ?? null, filter.action ?? null, filter.limit ?? 100],
    );
    return rows.map((r) => ({
      id: String(r.id),
      at: r.at instanceof Date ? r.at : new Date(r.at),
      actor: r.actor,
      action: r.action,
      subject: r.subject,
      tenant: r.tenant,
      details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details,
    }));
  }
}
