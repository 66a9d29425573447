import type { Sql } from '../../ports/sql';

/**
 * Telling a dead runner's batch leases from a live runner's, so a resumed run
 * takes a killed runner's batches over at once instead of waiting blind for
 * its leases to expire (5 minutes by default).
 *
 * A runner that can prove it is alive (one with its own PostgreSQL sessions:
 * the CLI and its worker threads) holds, for as long as it runs, a
 * session-level advisory lock keyed by its lease-holder name on a dedicated
 * connection, and leases batches under a name starting with
 * {@link LIVE_WORKER_PREFIX}. PostgreSQL releases a session lock when the
 * session ends, which a killed process's sessions do as soon as the kernel
 * closes their sockets. So a checker that can take the lock of such a holder
 * knows it is gone. The check takes the lock transaction-scoped and expires
 * the holder's leases in the same transaction; the normal claim then picks
 * the batches up. Takeover stays safe even if the proof were wrong: every
 * write is fenced by worker and attempt (batch-executor.ts), so a runner that
 * lost its lease cannot commit the batch.
 *
 * Holders without the prefix (Lambda workers on the Data API, which has no
 * sessions) cannot be proven gone: their leases are waited for, and reported
 * with their expiry time.
 */

/** Lease-holder names of runners that hold their liveness lock. */
export const LIVE_WORKER_PREFIX = 'live:';

/** rekey's advisory-lock namespace for liveness locks (`pg_advisory_lock(ns, hashtext(worker))`); 'reky' in ASCII. */
export const LIVENESS_LOCK_NAMESPACE = 0x72656b79;

/** Holds a runner's liveness lock (adapters/pg/liveness.ts over node-postgres). */
export interface RunnerLiveness {
  /**
   * Takes a liveness lock for a lease-holder name built from `base` and keeps
   * it until `release()` or the end of the process. Resolves with the name to
   * lease batches under (prefixed with {@link LIVE_WORKER_PREFIX}).
   */
  hold(base: string): Promise<LivenessHold>;
}

export interface LivenessHold {
  readonly worker: string;
  release(): Promise<void>;
}

/**
 * Another holder's live leases on a job, as a resumed run meets them:
 * - `gone`: its liveness lock was free, so it is dead: its leases were expired for takeover now;
 * - `alive`: it holds its liveness lock (still running);
 * - `unknown`: it holds no liveness lock (a Lambda worker): waited for until `leaseUntil`.
 */
export interface ForeignLease {
  readonly worker: string;
  readonly batches: number;
  /** When its last lease would have expired. */
  readonly leaseUntil: Date;
  readonly state: 'gone' | 'alive' | 'unknown';
}

/**
 * Looks at the live leases of other holders on a job and expires those of
 * holders proven gone (their liveness lock is free), in one transaction that
 * holds their locks until it commits. Returns every such holder.
 */
export async function takeOverDeadLeases(sql: Sql, jobId: string, self: string): Promise<ForeignLease[]> {
  return sql.transaction(async (tx) => {
    const { rows } = await tx.query<{
      worker: string;
      batches: string | number;
      lease_until: Date | string;
      free: boolean | null;
    }>(
      `SELECT worker, count(*) AS batches, max(lease_until) AS lease_until,
              CASE WHEN starts_with(worker, $3) THEN pg_try_advisory_xact_lock($4, hashtext(worker)) END AS free
         FROM rekey_job_batches
        WHERE job_id = $1::uuid AND status = 'running' AND lease_until >= now() AND worker <> $2
        GROUP BY worker ORDER BY worker`,
      [jobId, self, LIVE_WORKER_PREFIX, LIVENESS_LOCK_NAMESPACE],
    );
    const leases: ForeignLease[] = rows.map((r) => ({
      worker: r.worker,
      batches: Number(r.batches),
      leaseUntil: r.lease_until instanceof Date ? r.lease_until : new Date(String(r.lease_until)),
      state: r.free === null ? 'unknown' : r.free ? 'gone' : 'alive',
    }));
    const gone = leases.filter((l) => l.state === 'gone').map((l) => l.worker);
    if (gone.length > 0) {
      await tx.query(
        `UPDATE rekey_job_batches SET lease_until = now() - interval '1 millisecond', updated_at = now()
          WHERE job_id = $1::uuid AND status = 'running' AND worker = ANY($2::text[])`,
        [jobId, gone],
      );
    }
    return leases;
  });
}

/** What an operator reads about a foreign lease (ids and times only). */
export function describeForeignLease(lease: ForeignLease): string {
  const what = `${lease.batches} batch(es) leased by ${lease.worker} until ${lease.leaseUntil.toISOString()}`;
  switch (lease.state) {
    case 'gone':
      return `${what}: that runner is gone (its liveness lock is free); taking them over now`;
    case 'alive':
      return `${what}: that runner is alive (it holds its liveness lock); waiting for it`;
    default:
      return `${what}: that runner cannot be proven gone (it holds no liveness lock); waiting until the lease expires`;
  }
}
