import type { QueueMessage, QueuePort } from '../ports/queues';
import type { Sql } from '../ports/sql';
import { batchIdOf, parseBatchId } from '../reencrypt/store/job-store';

/**
 * Batches of a job that no worker will ever run: their queue message went to
 * the dead-letter queue (the worker failed on it maxReceiveCount times before
 * it could claim the batch), so nothing sends them again and the job would
 * wait for them until the execution's timeout.
 *
 * A job is stuck only when all three hold, so a healthy job — even a large
 * one whose batches all sit in the queue from the start — never is:
 * 1. quiet: none of the job's batches holds a live lease and none changed
 *    (claimed, finished, failed, enqueued) for `quietSeconds` — judged by the
 *    database's clock. A busy job is never quiet;
 * 2. the batch queue is empty (nothing visible or in flight: no message of
 *    this job is still on its way to a worker or to the DLQ, so the job fails
 *    once, with every stuck batch named) and the DLQ is not;
 * 3. some DLQ messages name a batch of this job that is not done. They are
 *    read and released at once (nothing is consumed: `rekey redrive` moves them).
 * Condition 1 also covers a duplicate message of the same batch still on its
 * way through the batch queue: it would have been claimed within the window.
 */
export interface StuckBatches {
  readonly jobId: string;
  /** Batches named by DLQ messages and not done, sorted (`table#seq`). */
  readonly batchIds: readonly string[];
  /** Seconds since the job's batches last changed. */
  readonly quietSeconds: number;
}

export interface StuckBatchOptions {
  readonly deadLetterQueueUrl: string;
  /** The batch queue: must be empty before a job is called stuck. */
  readonly queueUrl: string;
  /** Seconds without any batch activity before a job may be called stuck. */
  readonly quietSeconds: number;
  /** DLQ messages read at most per check (in receives of 10). @default 200 */
  readonly maxMessages?: number;
}

/**
 * Default quiet window: longer than a batch message's round trip through the
 * queue (visibility timeout 6 × the 60 s worker timeout) and than a lease
 * (5 min), so a redelivered duplicate or a slow claim is never taken for stuck.
 */
export const DEFAULT_STUCK_AFTER_SECONDS = 900;

/** Seconds a DLQ message stays hidden while it is read, should the release after the read fail. */
const PEEK_HIDE_SECONDS = 30;

export async function findStuckBatches(
  sql: Sql,
  queues: QueuePort,
  jobId: string,
  options: StuckBatchOptions,
): Promise<StuckBatches | null> {
  const quiet = await quietSeconds(sql, jobId);
  if (quiet === null || quiet < options.quietSeconds) return null;
  const queued = await queues.depth(options.queueUrl);
  if (queued.visible + queued.inFlight > 0) return null;
  const depth = await queues.depth(options.deadLetterQueueUrl);
  if (depth.visible + depth.inFlight === 0) return null;
  const named = (await readDeadLetters(queues, options.deadLetterQueueUrl, options.maxMessages ?? 200)).byJob.get(
    jobId,
  );
  if (!named) return null;
  const notDone = await batchesNotDone(sql, jobId, [...named]);
  if (notDone.length === 0) return null;
  return { jobId, batchIds: notDone, quietSeconds: Math.floor(quiet) };
}

/** The cause a stuck job fails with: the job, its batches, the command that fixes it. Ids only. */
export function describeStuckBatches(stuck: StuckBatches): string {
  const shown = stuck.batchIds.slice(0, 5).join(', ');
  const more = stuck.batchIds.length > 5 ? ` and ${stuck.batchIds.length - 5} more` : '';
  return (
    `job ${stuck.jobId} is stuck: ${stuck.batchIds.length} batch(es) (${shown}${more}) are in the dead-letter queue ` +
    `and no worker has touched the job for ${stuck.quietSeconds} s. ` +
    `Fix what failed them (worker logs), then run: rekey redrive ${stuck.jobId}`
  );
}

/** Seconds since any of the job's batches changed, or null while one holds a live lease (or the job has none left to run). */
async function quietSeconds(sql: Sql, jobId: string): Promise<number | null> {
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT count(*) FILTER (WHERE status = 'running' AND lease_until >= now()) AS leased,
            count(*) FILTER (WHERE status <> 'done') AS open,
            EXTRACT(EPOCH FROM (now() - GREATEST(max(updated_at), max(enqueued_at)))) AS quiet
       FROM rekey_job_batches WHERE job_id = $1::uuid`,
    [jobId],
  );
  const r = rows[0] ?? {};
  if (Number(r['leased'] ?? 0) > 0 || Number(r['open'] ?? 0) === 0 || r['quiet'] === null || r['quiet'] === undefined)
    return null;
  return Number(r['quiet']);
}

/** The DLQ's batch messages by job (batch ids per job id), and how many others it holds; read without consuming them. */
export async function readDeadLetters(
  queues: QueuePort,
  url: string,
  maxMessages: number,
): Promise<{ byJob: Map<string, Set<string>>; other: number; read: number }> {
  const seen = new Map<string, QueueMessage>();
  const byJob = new Map<string, Set<string>>();
  let other = 0;
  try {
    while (seen.size < maxMessages) {
      const got = (await queues.receive(url, 10, PEEK_HIDE_SECONDS)).filter((m) => !seen.has(m.id));
      if (got.length === 0) break;
      for (const m of got) {
        seen.set(m.id, m);
        const ids = batchMessageIds(m.body);
        if (!ids) other += 1;
        else {
          const set = byJob.get(ids.jobId) ?? new Set<string>();
          byJob.set(ids.jobId, set.add(ids.batchId));
        }
      }
    }
  } finally {
    await queues.release(url, [...seen.values()]);
  }
  return { byJob, other, read: seen.size };
}

/** `{jobId, batchId}` of a batch message, or undefined for anything else (a malformed message stays where it is). */
export function batchMessageIds(body: string): { jobId: string; batchId: string } | undefined {
  try {
    const m = JSON.parse(body) as { jobId?: unknown; batchId?: unknown };
    if (typeof m?.jobId === 'string' && typeof m.batchId === 'string' && parseBatchId(m.batchId))
      return { jobId: m.jobId, batchId: m.batchId };
  } catch {
    // not JSON
  }
  return undefined;
}

async function batchesNotDone(sql: Sql, jobId: string, batchIds: readonly string[]): Promise<string[]> {
  const refs = batchIds.map((id) => parseBatchId(id)!);
  const { rows } = await sql.query<Record<string, unknown>>(
    `SELECT b.table_name, b.seq FROM rekey_job_batches b
       JOIN unnest($2::text[], $3::int[]) AS r(t, s) ON b.table_name = r.t AND b.seq = r.s
      WHERE b.job_id = $1::uuid AND b.status <> 'done'`,
    [jobId, refs.map((r) => r.table), refs.map((r) => String(r.seq))],
  );
  return rows.map((r) => batchIdOf({ table: String(r['table_name']), seq: Number(r['seq']) })).sort();
}
