import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { QueueError, QueueSendError, type QueueDepth, type QueueMessage, type QueuePort } from '../ports/queues';
import { awsErrorName, isTransientAwsError } from './aws-error-mapping';

/** QueuePort over Amazon SQS. Every failure is a QueueError naming the queue and the SQS action. */
export class SqsQueues implements QueuePort {
  constructor(private readonly client: SQSClient = new SQSClient({})) {}

  /** An adapter over a new client; `config` is passed to SQSClient as-is (region, endpoint, credentials). */
  static fromConfig(config: SQSClientConfig = {}): SqsQueues {
    return new SqsQueues(new SQSClient(config));
  }

  async depth(queueUrl: string): Promise<QueueDepth> {
    const out = await this.call('GetQueueAttributes', queueUrl, () =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  async receive(queueUrl: string, max: number, hideSeconds: number): Promise<QueueMessage[]> {
    const out = await this.call('ReceiveMessage', queueUrl, () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          VisibilityTimeout: hideSeconds,
          WaitTimeSeconds: 0,
        }),
      ),
    );
    return (out.Messages ?? []).map((m) => ({
      id: m.MessageId ?? '',
      body: m.Body ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
    }));
  }

  async release(queueUrl: string, messages: readonly QueueMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      await this.call('ChangeMessageVisibilityBatch', queueUrl, () =>
        this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((m, n) => ({ Id: String(n), ReceiptHandle: m.receiptHandle, VisibilityTimeout: 0 })),
          }),
        ),
      );
    }
  }

  async send(queueUrl: string, bodies: readonly string[]): Promise<void> {
    if (bodies.length === 0) return;
    const out = await this.call('SendMessageBatch', queueUrl, () =>
      this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies.map((b, n) => ({ Id: String(n), MessageBody: b })),
        }),
      ),
    );
    const failed = out.Failed ?? [];
    if (failed.length > 0) {
      throw new QueueSendError(
        `sqs:SendMessageBatch to ${queueUrl} refused ${failed.length} of ${bodies.length} messages (${failed[0]?.Code ?? 'no code'})`,
        failed.length,
        bodies.length,
        { retryable: failed.every((f) => !f.SenderFault) },
      );
    }
  }

  async delete(queueUrl: string, messages: readonly QueueMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const out = await this.call('DeleteMessageBatch', queueUrl, () =>
      this.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.receiptHandle })),
        }),
      ),
    );
    if ((out.Failed ?? []).length > 0) {
      throw new QueueError(
        `sqs:DeleteMessageBatch on ${queueUrl} refused ${out.Failed!.length} of ${messages.length} messages (${out.Failed![0]?.Code ?? 'no code'})`,
        {
          retryable: true,
        },
      );
    }
  }

  private async call<T>(action: string, queueUrl: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const name = awsErrorName(err);
      const retryable = isTransientAwsError(err);
      throw new QueueError(
        `sqs:${action} on ${queueUrl} failed (${name})` +
          (retryable
            ? '; retry later'
            : ': check the queue URL and that the caller may call sqs:' +
              action +
              ' on it (and kms:Decrypt on its key)'),
        { retryable, cause: err },
      );
    }
  }
}
