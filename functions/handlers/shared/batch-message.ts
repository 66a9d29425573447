import type { SQSRecord } from 'aws-lambda';
import { isJobId } from '../../core/reencrypt/store/jobs-table';
import { parseBatchId } from '../../core/reencrypt/store/batch-ids';
import { MalformedMessageError } from './errors';

/** The `{jobId, batchId}` of a batch queue record, or MalformedMessageError. */
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

/** The record's ids for a log line, or nothing when it is malformed (its body is never logged). */
export function batchIdsOf(record: SQSRecord): { jobId?: string; batchId?: string } {
  try {
    return parseBatchMessage(record);
  } catch {
    return {};
  }
}
