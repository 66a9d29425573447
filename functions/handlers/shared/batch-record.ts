import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSRecord } from 'aws-lambda';
import { MetricNames } from '../../core/metrics-names';
import { workerStep } from '../../core/pipeline/steps';
import { TimeBudget } from '../../core/pipeline/time-budget';
import { BatchNotFoundError, JobNotFoundError } from '../../core/reencrypt/errors';
import { pipelineRuntime } from '../../runtime/pipeline-container';
import { batchIdsOf, parseBatchMessage } from './batch-message';
import { BatchBusyError, TimeBudgetError } from './errors';
import { logger, metrics } from './powertools';

type BatchOutcome = Awaited<ReturnType<typeof workerStep>>;

/**
 * One record of the batch queue, `{jobId, batchId}`: the batch is run by the
 * engine (claim, transform, compare-and-swap write, counters). The record
 * throws, and Powertools reports it as a batch item failure (SQS redelivers
 * it, then moves it to the DLQ), only when delivering it again can help:
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
export async function batchRecordHandler(record: SQSRecord, context?: Context): Promise<void> {
  try {
    if (context) assertTimeLeft(record, context);
    await runRecord(record);
  } catch (err) {
    // Powertools only collects the failure; say why here (messages carry ids, never values).
    logger.warn('record failed; SQS will deliver it again', {
      messageId: record.messageId,
      ...batchIdsOf(record),
      receiveCount: record.attributes.ApproximateReceiveCount,
      error: err instanceof Error ? err.name : 'Error',
      errorMessage: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
}

function assertTimeLeft(record: SQSRecord, context: Context): void {
  const budget = TimeBudget.fromEnv(() => context.getRemainingTimeInMillis());
  const { remainingMs, enough } = budget.check();
  if (!enough) throw new TimeBudgetError(record.messageId, remainingMs, budget.perBatchMs);
}

async function runRecord(record: SQSRecord): Promise<void> {
  const { jobId, batchId } = parseBatchMessage(record);
  const runtime = await pipelineRuntime();
  const kmsBefore = runtime.keyring.stats().kmsCalls;
  const started = Date.now();
  let outcome: BatchOutcome;
  try {
    outcome = await workerStep(runtime.deps, jobId, batchId);
  } catch (err) {
    if (err instanceof JobNotFoundError || err instanceof BatchNotFoundError) {
      logger.warn('stale message acknowledged', { messageId: record.messageId, jobId, batchId, error: err.code });
      return;
    }
    throw err;
  }
  recordBatchMetrics(outcome, Date.now() - started, runtime.keyring.stats().kmsCalls - kmsBefore);
  logger.info('batch', { jobId, batchId, outcome: outcome.result.outcome, ...outcome.result.counts });
  if (outcome.retry) throw new BatchBusyError(jobId, batchId);
}

function recordBatchMetrics({ result }: BatchOutcome, durationMs: number, kmsCalls: number): void {
  metrics.addMetric(MetricNames.RowsReencrypted, MetricUnit.Count, result.counts.done);
  metrics.addMetric(MetricNames.RowsFailed, MetricUnit.Count, result.counts.failed);
  metrics.addMetric(MetricNames.RowsSkipped, MetricUnit.Count, result.counts.skipped + result.counts.conflicted);
  metrics.addMetric(MetricNames.BatchDurationMs, MetricUnit.Milliseconds, durationMs);
  metrics.addMetric(MetricNames.KmsCalls, MetricUnit.Count, kmsCalls);
  if (result.valueErrors?.decryption)
    metrics.addMetric(MetricNames.DecryptionErrors, MetricUnit.Count, result.valueErrors.decryption);
  if (result.valueErrors?.encryption)
    metrics.addMetric(MetricNames.EncryptionErrors, MetricUnit.Count, result.valueErrors.encryption);
}
