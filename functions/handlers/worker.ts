import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent } from 'aws-lambda';
import { batchRecordHandler } from './shared/batch-record';
import { rekeyHandler } from './shared/handler';

const processor = new BatchProcessor(EventType.SQS);

/**
 * The SQS worker: each record is `{jobId, batchId}`, run by
 * shared/batch-record.ts (which says when a record is reported as a batch item
 * failure, and the time budget).
 *
 * One record at a time: a container holds two database connections, and a message redelivered
 * next to itself (at-least-once delivery) then finds its batch done instead of leased.
 * A delivery whose every record failed (often the one record of a busy batch) is answered with
 * its item failures, not thrown: the same redelivery, without counting a Lambda error or
 * making the event source mapping back off as if the function were broken.
 */
export const handler = rekeyHandler('Worker', async (event: SQSEvent, context: Context) =>
  processPartialResponse(event, batchRecordHandler, processor, {
    context,
    processInParallel: false,
    throwOnFullBatchFailure: false,
  }),
);
