import { ENV, ENV_DEFAULTS } from '../core/environment-names';
import type { StuckBatchOptions } from '../core/pipeline/stuck-batches';
import { HandlerConfigError } from './errors';

/**
 * The pipeline functions' settings from their environment (set by the stack,
 * lib/reencryption-pipeline.ts), each checked where it is read: a missing or
 * malformed one is a HandlerConfigError naming the variable, which the state
 * machine routes to MarkFailed.
 */

/** JOB_QUEUE_URL: the batch queue Enqueue sends to. */
export function jobQueueUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env[ENV.jobQueueUrl];
  if (!url) throw new HandlerConfigError([ENV.jobQueueUrl]);
  return url;
}

/**
 * CheckProgress's stuck-batch check: DEAD_LETTER_QUEUE_URL (no DLQ, no
 * check), JOB_QUEUE_URL (a job is stuck only once the batch queue is empty)
 * and STUCK_AFTER_SECONDS (default ENV_DEFAULTS.stuckAfterSeconds).
 */
export function stuckBatchSettings(env: NodeJS.ProcessEnv = process.env): StuckBatchOptions | undefined {
  const raw = env[ENV.stuckAfterSeconds];
  const quietSeconds = Number(raw ?? ENV_DEFAULTS.stuckAfterSeconds);
  if (!(quietSeconds >= 0))
    throw new HandlerConfigError([ENV.stuckAfterSeconds], `must be a number of seconds, got ${JSON.stringify(raw)}`);
  const deadLetterQueueUrl = env[ENV.deadLetterQueueUrl];
  if (!deadLetterQueueUrl) return undefined;
  const queueUrl = env[ENV.jobQueueUrl];
  if (!queueUrl)
    throw new HandlerConfigError(
      [ENV.jobQueueUrl],
      `(with ${ENV.deadLetterQueueUrl}: a job is stuck only once the batch queue is empty)`,
    );
  return { deadLetterQueueUrl, queueUrl, quietSeconds };
}

/** RETIRING_KEY_GRACE_DAYS: days a key may stay `rotating` before the inventory calls its rows overdue. */
export function retiringKeyGraceDays(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env[ENV.retiringKeyGraceDays] ?? ENV_DEFAULTS.retiringKeyGraceDays);
}
