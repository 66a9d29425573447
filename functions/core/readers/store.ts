import type { Sql } from '../ports/sql';

/** What a reader says about itself in each heartbeat. Key ids only. */
export interface ReaderReport {
  /** Stable for the process's life: `<kind>:<host>:<pid>:<random>`. */
  readonly readerId: string;
  readonly kind: 'library' | 'lambda' | 'cli' | 'worker';
  /** Host name, or the Lambda function name. */
  readonly host: string;
  readonly pid: number | null;
  /** Every key id it can decrypt. */
  readonly keyIds: readonly string[];
  /** The keyset secret version it holds (hierarchical), else a digest of its key ids. */
  readonly keysetVersion: string | null;
  /** The key it encrypts new (global-scope) values with; null when it cannot tell. */
  readonly primaryKeyId: string | null;
  readonly intervalSeconds: number;
}

export interface ReaderRecord extends ReaderReport {
  readonly startedAt: Date;
  readonly lastSeen: Date;
  readonly secondsSinceSeen: number;
  /** Seen within three of its own heartbeat intervals. */
  readonly live: boolean;
}

/** Missed heartbeats after which a reader counts as gone (stale). */
export const STALE_AFTER_INTERVALS = 3;
/** Stale rows older than this are deleted by the next heartbeat of any reader. */
export const FORGET_AFTER_DAYS = 7;

/** Writes one heartbeat (an upsert); now and then forgets readers long gone. */
export async function writeHeartbeat(sql: Sql, r: ReaderReport): Promise<void> {
  await sql.query(
    `INSERT INTO rekey_readers (reader_id, kind, host, pid, key_ids, keyset_version, primary_key_id, interval_seconds)
     VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8)
     ON CONFLICT (reader_id) DO UPDATE SET key_ids = EXCLUDED.key_ids, keyset_version = EXCLUDED.keyset_version,
       primary_key_id = EXCLUDED.primary_key_id, interval_seconds = EXCLUDED.interval_seconds, last_seen = now()`,
    [r.readerId, r.kind, r.host, r.pid, [...r.keyIds], r.keysetVersion, r.primaryKeyId, r.intervalSeconds],
  );
}

export async function forgetGoneReaders(sql: Sql): Promise<number> {
  return (
    await sql.query(`DELETE FROM rekey_readers WHERE last_seen < now() - $1 * interval '1 day'`, [FORGET_AFTER_DAYS])
  ).rowCount;
}

/** A process that stops cleanly reads nothing any more. */
export async function removeReader(sql: Sql, readerId: string): Promise<void> {
  await sql.query('DELETE FROM rekey_readers WHERE reader_id = $1', [readerId]);
}

/** Every reader, live first, most recently seen first; liveness judged by the database's clock. */
export async function listReaders(sql: Sql): Promise<ReaderRecord[]> {
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT reader_id, kind, host, pid, key_ids, keyset_version, primary_key_id, interval_seconds, started_at, last_seen,
            EXTRACT(EPOCH FROM (now() - last_seen))::float8 AS age,
            last_seen > now() - interval_seconds * $1 * interval '1 second' AS live
       FROM rekey_readers ORDER BY live DESC, last_seen DESC, reader_id`,
    [STALE_AFTER_INTERVALS],
  );
  return rows.map((r) => ({
    readerId: String(r.reader_id),
    kind: r.kind as ReaderReport['kind'],
    host: String(r.host),
    pid: r.pid === null ? null : Number(r.pid),
    keyIds: parseTextArray(r.key_ids),
    keysetVersion: (r.keyset_version as string | null) ?? null,
    primaryKeyId: (r.primary_key_id as string | null) ?? null,
    intervalSeconds: Number(r.interval_seconds),
    startedAt: toDate(r.started_at),
    lastSeen: toDate(r.last_seen),
    secondsSinceSeen: Math.max(0, Number(r.age)),
    live: r.live === true || r.live === 't',
  }));
}

function toDate(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

/** text[] as node-postgres (an array) or the Data API (a JSON / `{a,b}` string) returns it. */
function parseTextArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') {
    if (v.startsWith('[')) return (JSON.parse(v) as unknown[]).map(String);
    const inner = v.replace(/^\{|\}$/g, '');
    return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
  }
  return [];
}
