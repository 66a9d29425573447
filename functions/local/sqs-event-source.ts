import {
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { LOCAL_RUNTIME_SHAPE } from '../core/plan/pipeline-shape';
import { sqsRecordOfMessage } from './lambda-events';

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface SqsEventSourceOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsHandler;
  /** Concurrent pollers, like the event source mapping's maximum concurrency. @default 2 */
  readonly maxConcurrency?: number;
  /** Messages per handler call. @default 10 */
  readonly batchSize?: number;
  /**
   * Seconds a failed message stays invisible before redelivery. Lambda leaves
   * it invisible for the queue's visibility timeout; locally a short pause
   * keeps runs quick without redelivering a busy batch in a tight loop (which
   * would spend its receives, and reach the DLQ, while its lease holder works).
   * @default 1
   */
  readonly retryDelaySeconds?: number;
  /** Called when a receive, delete or visibility change fails; polling goes on after a backoff. @default - counted in stats.pollErrors only */
  readonly onPollError?: (err: unknown) => void;
  readonly region?: string;
}

/**
 * What Lambda's SQS event source mapping does, for the local runtime: long-poll
 * the queue, hand each batch to the worker handler as a real SQS event, delete
 * the messages it did not report in `batchItemFailures`, and make the failed
 * ones visible again so SQS counts the receive and redrives them to the DLQ
 * after maxReceiveCount (moto implements the redrive policy).
 */
export class SqsEventSource {
  private running = false;
  private loops: Promise<void>[] = [];
  private queueArn = '';
  /** Handler invocations and messages seen, for tests and progress output. */
  readonly stats = { invocations: 0, messages: 0, failures: 0, handlerErrors: 0, pollErrors: 0 };

  constructor(private readonly options: SqsEventSourceOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    const attrs = await this.options.client.send(
      new GetQueueAttributesCommand({ QueueUrl: this.options.queueUrl, AttributeNames: ['QueueArn'] }),
    );
    this.queueArn = attrs.Attributes?.QueueArn ?? '';
    this.running = true;
    const n = this.options.maxConcurrency ?? LOCAL_RUNTIME_SHAPE.workers;
    this.loops = Array.from({ length: n }, () => this.poll());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  /**
   * One poller. An SQS call that fails (the endpoint restarting, a dropped
   * connection) is counted and retried after a backoff of up to 5 s, as the
   * event source mapping does: a poller never dies, and never leaves a
   * rejected promise behind for stop() to find.
   */
  private async poll(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        await this.pollOnce();
        failures = 0;
      } catch (err) {
        failures += 1;
        this.stats.pollErrors += 1;
        this.options.onPollError?.(err);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** failures)));
      }
    }
  }

  private async pollOnce(): Promise<void> {
    const { client, queueUrl } = this.options;
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(this.options.batchSize ?? 10, 10),
        WaitTimeSeconds: LOCAL_RUNTIME_SHAPE.receiveWaitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length > 0) await this.deliver(messages);
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { client, queueUrl, handler } = this.options;
    const event: SQSEvent = { Records: messages.map((m) => this.toRecord(m)) };
    this.stats.invocations += 1;
    this.stats.messages += messages.length;
    let failedIds: Set<string>;
    try {
      const response = await handler(event);
      failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      // A handler that throws fails the whole batch, as in Lambda.
      this.stats.handlerErrors += 1;
      failedIds = new Set(messages.map((m) => m.MessageId!));
    }
    this.stats.failures += failedIds.size;
    const succeeded = messages.filter((m) => !failedIds.has(m.MessageId!));
    const failed = messages.filter((m) => failedIds.has(m.MessageId!));
    if (succeeded.length > 0) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: succeeded.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if (failed.length > 0) {
      await client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: failed.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle!,
            VisibilityTimeout: this.options.retryDelaySeconds ?? 1,
          })),
        }),
      );
    }
  }

  private toRecord(m: Message): SQSRecord {
    // Receive attributes not returned count as a first receive now.
    const now = String(Date.now());
    return sqsRecordOfMessage(
      { ...m, Attributes: { SentTimestamp: now, ApproximateFirstReceiveTimestamp: now, ...m.Attributes } },
      this.queueArn,
      this.options.region,
    );
  }
}
