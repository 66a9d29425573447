import { randomUUID } from 'node:crypto';
import type { Context, SQSRecord, SQSRecordAttributes } from 'aws-lambda';

/**
 * What the Lambda runtime hands a function, built locally: the context of an
 * invocation and the SQS records of an event source mapping. The local
 * runtime (pipeline.ts, sqs-event-source.ts) and the tests (through
 * test/support/lambda.ts) build them here, in one place.
 */

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

export interface LambdaContextOptions {
  /** Time the invocation has left when it starts; it counts down from there as on Lambda. @default 300_000 */
  readonly remainingMs?: number;
  /** @default '1024' */
  readonly memoryLimitInMB?: string;
  /** @default - a random UUID, as Lambda's request ids are */
  readonly awsRequestId?: string;
}

/** The context of one invocation of function `rekey-<name>`. */
export function lambdaContext(name: string, options: LambdaContextOptions = {}): Context {
  const functionName = `rekey-${name}`;
  const deadline = Date.now() + (options.remainingMs ?? 300_000);
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: options.memoryLimitInMB ?? '1024',
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface SqsRecordOptions {
  /** @default - a random UUID */
  readonly messageId?: string;
  /** @default `rh-<messageId>` */
  readonly receiptHandle?: string;
  /** Receive attributes; each one missing takes its default (first receive, sent at time 0). */
  readonly attributes?: Partial<SQSRecordAttributes>;
  /** @default '' */
  readonly md5OfBody?: string;
  /** @default a queue named `rekey-jobs` */
  readonly eventSourceARN?: string;
  /** @default 'us-east-1' */
  readonly awsRegion?: string;
}

/** One record of an SQS event as the event source mapping delivers it (the shape of Powertools' `sqsRecordFactory(body)`). */
export function sqsRecord(body: string, options: SqsRecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? randomUUID();
  const awsRegion = options.awsRegion ?? REGION;
  return {
    messageId,
    receiptHandle: options.receiptHandle ?? `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: '0',
      ...options.attributes,
    },
    messageAttributes: {},
    md5OfBody: options.md5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.eventSourceARN ?? `arn:aws:sqs:${awsRegion}:${ACCOUNT}:rekey-jobs`,
    awsRegion,
  };
}

/** The fields of a received SQS message (the SDK's `Message`) that a record carries. */
export interface ReceivedMessage {
  readonly MessageId?: string;
  readonly ReceiptHandle?: string;
  readonly Body?: string;
  readonly MD5OfBody?: string;
  readonly Attributes?: Partial<Record<string, string>>;
}

/** The record the event source mapping makes of a message it received from `eventSourceARN`. */
export function sqsRecordOfMessage(message: ReceivedMessage, eventSourceARN: string, awsRegion?: string): SQSRecord {
  const a = message.Attributes ?? {};
  const attributes: Partial<SQSRecordAttributes> = {};
  for (const name of [
    'ApproximateReceiveCount',
    'SentTimestamp',
    'SenderId',
    'ApproximateFirstReceiveTimestamp',
  ] as const) {
    if (a[name] !== undefined) attributes[name] = a[name];
  }
  return sqsRecord(message.Body ?? '', {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    md5OfBody: message.MD5OfBody ?? '',
    attributes,
    eventSourceARN,
    awsRegion,
  });
}
