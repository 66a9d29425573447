import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { MetricNames } from '../core/metrics-names';
import { InvalidInputError } from '../core/pipeline/errors';
import { workerStep } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { logger, metrics } from './shared/powertools';
import { containerRuntime } from './shared/runtime';

const processor = new BatchProcessor(EventType.SQS);

/**
 * The SQS worker: each record is `{jobId, batchId}`; the batch is run by the
 * engine (claim, transform, compare-and-swap write, counters). Partial batch
 * response: a record fails (and SQS redelivers it, then the DLQ) only when a
 * retry can help — another worker's live lease, or an error the engine marks
 * retryable. A malformed record goes to the DLQ rather than looping.
 */
async function recordHandler(record: SQSRecord): Promise<void> {
  let message: { jobId?: unknown; batchId?: unknown };
  try {
    message = JSON.parse(record.body) as typeof message;
  } catch {
    throw new InvalidInputError([`message ${record.messageId} is not JSON`]);
  }
  if (typeof message.jobId !== 'string' || typeof message.batchId !== 'string') {
    throw new InvalidInputError([`message ${record.messageId} needs string jobId and batchId`]);
  }
  const runtime = await containerRuntime();
  const kmsBefore = runtime.keyring.stats().kmsCalls;
  const started = Date.now();
  const { result, retry } = await workerStep(runtime.deps, message.jobId, message.batchId);
  metrics.addMetric(MetricNames.RowsReencrypted, MetricUnit.Count, result.counts.done);
  metrics.addMetric(MetricNames.RowsFailed, MetricUnit.Count, result.counts.failed);
  metrics.addMetric(MetricNames.RowsSkipped, MetricUnit.Count, result.counts.skipped + result.counts.conflicted);
  metrics.addMetric(MetricNames.BatchDurationMs, MetricUnit.Milliseconds, Date.now() - started);
  metrics.addMetric(MetricNames.KmsCalls, MetricUnit.Count, runtime.keyring.stats().kmsCalls - kmsBefore);
  if (result.counts.failed > 0) metrics.addMetric(MetricNames.DecryptionErrors, MetricUnit.Count, result.counts.failed);
  logger.info('batch', { jobId: message.jobId, batchId: message.batchId, outcome: result.outcome, ...result.counts });
  if (retry) throw new Error(`batch ${message.batchId} is leased by another worker: retry later`);
}

// One record at a time: a container holds two database connections, and a message redelivered
// next to itself (at-least-once delivery) then finds its batch done instead of leased.
export const handler = rekeyHandler('Worker', async (event: SQSEvent) =>
  processPartialResponse(event, recordHandler, processor, { processInParallel: false }),
);
