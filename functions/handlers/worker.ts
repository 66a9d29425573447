import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { MetricNames } from '../core/metrics-names';
import { workerStep } from '../core/pipeline/steps';
import { TimeBudget } from '../core/pipeline/time-budget';
import { BatchNotFoundError, JobNotFoundError } from '../core/reencrypt/errors';
import { isJobId, parseBatchId } from '../core/reencrypt/store/job-store';
import { BatchBusyError, MalformedMessageError, TimeBudgetError } from './shared/errors';
import { rekeyHandler } from './shared/handler';
import { logger, metrics } from './shared/powertools';
import { containerRuntime } from './shared/runtime';

const processor = new BatchProcessor(EventType.SQS);

/** The `{jobId, batchId}` of a record, or MalformedMessageError. */
export function parseBatchMessage(record: SQSRecord): { jobId: string; batchId: string } {
  let message: { jobId?: unknown; batchId?: unknown };
  try {
    message = JSON.parse(record.body) as typeof message;
  } catch {
    throw new MalformedMessageError(record.messageId, 'the body is not JSON');
  }
  if (typeof message !== 'object' || message === null)
    throw new MalformedMessageError(record.messageId, 'the body is not a JSON object');
  const { jobId, batchId } = message;
  if (typeof jobId !== 'string' || !isJobId(jobId))
    throw new MalformedMessageError(record.messageId, 'jobId must be a job uuid');
  if (typeof batchId !== 'string' || !parseBatchId(batchId))
    throw new MalformedMessageError(record.messageId, 'batchId must be "table#seq"');
  return { jobId, batchId };
}

/**
 * The SQS worker: each record is `{jobId, batchId}`; the batch is run by the
 * engine (claim, transform, compare-and-swap write, counters). A record is
 * reported as a batch item failure (SQS redelivers it, then moves it to the
 * DLQ) only when delivering it again can help:
 * - another worker holds the batch's lease (BatchBusyError);
 * - the batch threw: the engine recorded the failure on the batch and lets it
 *   be claimed again until its attempts run out, after which a delivery finds
 *   it exhausted and is acknowledged (CheckProgress then fails the job);
 * - the message is malformed: kept in the DLQ for inspection (and its alarm).
 * A message for a job or batch that no longer exists (a deleted or rolled-back
 * job) is logged and acknowledged: no delivery can change that.
 * Row-level failures never fail a record: they are in rekey_row_errors.
 *
 * Time budget: a record is claimed only while the invocation has at least
 * WORKER_BATCH_BUDGET_MS left (a 45 s Data API statement plus retries);
 * otherwise it, and every record after it, is reported unclaimed
 * (TimeBudgetError), so the Lambda timeout never cuts a batch halfway.
 */
async function recordHandler(record: SQSRecord, context?: Context): Promise<void> {
  try {
    if (context) {
      const budget = TimeBudget.fromEnv(() => context.getRemainingTimeInMillis());
      const { remainingMs, enough } = budget.check();
      if (!enough) throw new TimeBudgetError(record.messageId, remainingMs, budget.perBatchMs);
    }
    await runRecord(record);
  } catch (err) {
    // Powertools only collects the failure; say why here (messages carry ids, never values).
    logger.warn('record failed; SQS will deliver it again', {
      messageId: record.messageId,
      ...idsOf(record),
      receiveCount: record.attributes.ApproximateReceiveCount,
      error: err instanceof Error ? err.name : 'Error',
      errorMessage: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
}

/** The record's ids for a log line, or nothing when it is malformed (its body is never logged). */
function idsOf(record: SQSRecord): { jobId?: string; batchId?: string } {
  try {
    return parseBatchMessage(record);
  } catch {
    return {};
  }
}

async function runRecord(record: SQSRecord): Promise<void> {
  const { jobId, batchId } = parseBatchMessage(record);
  const runtime = await containerRuntime();
  const kmsBefore = runtime.keyring.stats().kmsCalls;
  const started = Date.now();
  let outcome: Awaited<ReturnType<typeof workerStep>>;
  try {
    outcome = await workerStep(runtime.deps, jobId, batchId);
  } catch (err) {
    if (err instanceof JobNotFoundError || err instanceof BatchNotFoundError) {
      logger.warn('stale message acknowledged', { messageId: record.messageId, jobId, batchId, error: err.code });
      return;
    }
    throw err;
  }
  const { result, retry } = outcome;
  metrics.addMetric(MetricNames.RowsReencrypted, MetricUnit.Count, result.counts.done);
  metrics.addMetric(MetricNames.RowsFailed, MetricUnit.Count, result.counts.failed);
  metrics.addMetric(MetricNames.RowsSkipped, MetricUnit.Count, result.counts.skipped + result.counts.conflicted);
  metrics.addMetric(MetricNames.BatchDurationMs, MetricUnit.Milliseconds, Date.now() - started);
  metrics.addMetric(MetricNames.KmsCalls, MetricUnit.Count, runtime.keyring.stats().kmsCalls - kmsBefore);
  if (result.valueErrors?.decryption)
    metrics.addMetric(MetricNames.DecryptionErrors, MetricUnit.Count, result.valueErrors.decryption);
  if (result.valueErrors?.encryption)
    metrics.addMetric(MetricNames.EncryptionErrors, MetricUnit.Count, result.valueErrors.encryption);
  logger.info('batch', { jobId, batchId, outcome: result.outcome, ...result.counts });
  if (retry) throw new BatchBusyError(jobId, batchId);
}

// One record at a time: a container holds two database connections, and a message redelivered
// next to itself (at-least-once delivery) then finds its batch done instead of leased.
// A delivery whose every record failed (often the one record of a busy batch) is answered with
// its item failures, not thrown: the same redelivery, without counting a Lambda error or
// making the event source mapping back off as if the function were broken.
export const handler = rekeyHandler('Worker', async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, {
    context,
    processInParallel: false,
    throwOnFullBatchFailure: false,
  }),
);
