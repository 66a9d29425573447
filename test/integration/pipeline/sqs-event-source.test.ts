import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { handler as worker } from '../../../functions/handlers/worker';
import { resetPipelineContainer } from '../../../functions/runtime/pipeline-container';
import { SqsEventSource } from '../../../functions/local/sqs-event-source';
import { awsClientConfig } from '../../support/aws';
import { migratedDatabase, type TestDatabase } from '../../support/database';
import { lambdaContext } from '../../support/lambda';

/**
 * The local event source mapping with the real worker handler on a real SQS
 * queue (moto) with a redrive policy: what fails is delivered again and ends
 * in the DLQ after maxReceiveCount; what no delivery can fix is acknowledged.
 */
const MAX_RECEIVES = 3;
const context = lambdaContext('worker', { remainingMs: 180_000 });

describe('SqsEventSource + worker handler on moto SQS', () => {
  let db: TestDatabase;
  let sqs: SQSClient;
  let queueUrl: string;
  let dlqUrl: string;
  const saved = { ...process.env };

  beforeEach(async () => {
    db = await migratedDatabase();
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      REKEY_REGISTRY: JSON.stringify({ tables: [{ name: 't', idColumn: 'id', columns: ['v'] }] }),
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    delete process.env.KEYRING_KIND; // keyless, as deployed workers without key access would be: no batch gets that far here
    await resetPipelineContainer();
    sqs = new SQSClient(awsClientConfig());
    const suffix = randomUUID().slice(0, 8);
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${suffix}` }))).QueueUrl!;
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    queueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `jobs-${suffix}`,
          Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVES }) },
        }),
      )
    ).QueueUrl!;
  });

  afterEach(async () => {
    await resetPipelineContainer();
    process.env = { ...saved };
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: dlqUrl }));
    sqs.destroy();
    await db.drop();
  });

  async function depth(url: string): Promise<number> {
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(a.Attributes!.ApproximateNumberOfMessages) + Number(a.Attributes!.ApproximateNumberOfMessagesNotVisible)
    );
  }

  /** Polls until `done()` or the event source has been idle for a while; returns what the handler saw. */
  async function drive(done: () => Promise<boolean>): Promise<{ events: SQSEvent[]; source: SqsEventSource }> {
    const events: SQSEvent[] = [];
    const source = new SqsEventSource({
      client: sqs,
      queueUrl,
      maxConcurrency: 1,
      batchSize: 5,
      handler: async (event) => {
        events.push(event);
        return (await worker(event, context)) as never;
      },
    });
    await source.start();
    try {
      for (let i = 0; i < 200 && !(await done()); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await source.stop();
    }
    return { events, source };
  }

  it('a malformed message is delivered maxReceiveCount times, then lands in the DLQ as sent', async () => {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [{ Id: 'bad', MessageBody: '{"jobId":"not-a-uuid","batchId":"t#1"}' }],
      }),
    );
    const { events, source } = await drive(async () => (await depth(dlqUrl)) === 1);
    expect(await depth(dlqUrl)).toBe(1);
    expect(await depth(queueUrl)).toBe(0);
    expect(source.stats.failures).toBe(MAX_RECEIVES);
    // Real SQS event shapes: the receive count grows with each delivery.
    expect(events.map((e) => e.Records[0]!.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
    expect(events[0]!.Records[0]).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:.*:jobs-/),
      body: '{"jobId":"not-a-uuid","batchId":"t#1"}',
    });
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 1 }));
    expect(dead.Messages?.[0]?.Body).toBe('{"jobId":"not-a-uuid","batchId":"t#1"}');
  });

  it('a receive that fails is retried after a backoff: the poller survives and the message is still handled', async () => {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [{ Id: 'stale', MessageBody: JSON.stringify({ jobId: randomUUID(), batchId: 't#1' }) }],
      }),
    );
    let refusals = 2;
    const flaky = {
      send: (command: Parameters<SQSClient['send']>[0]) => {
        if (command instanceof ReceiveMessageCommand && refusals > 0) {
          refusals -= 1;
          return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        }
        return sqs.send(command as never);
      },
    } as unknown as SQSClient;
    const seen: unknown[] = [];
    const source = new SqsEventSource({
      client: flaky,
      queueUrl,
      maxConcurrency: 1,
      handler: async (event) => (await worker(event, context)) as never,
      onPollError: (e) => seen.push(e),
    });
    await source.start();
    try {
      for (let i = 0; i < 200 && (await depth(queueUrl)) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await source.stop();
    }
    expect(await depth(queueUrl)).toBe(0);
    expect(source.stats).toMatchObject({ pollErrors: 2, invocations: 1, failures: 0 });
    expect(seen.map((e) => (e as Error).message)).toEqual(['socket hang up', 'socket hang up']);
  });

  it('a message for a job that no longer exists is acknowledged at once, next to a malformed one that is not', async () => {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'stale', MessageBody: JSON.stringify({ jobId: randomUUID(), batchId: 't#1' }) },
          { Id: 'bad', MessageBody: 'not json' },
        ],
      }),
    );
    const { source } = await drive(async () => (await depth(dlqUrl)) === 1 && (await depth(queueUrl)) === 0);
    expect(await depth(queueUrl)).toBe(0);
    expect(await depth(dlqUrl)).toBe(1); // only the malformed one
    expect(source.stats.failures).toBe(MAX_RECEIVES);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10 }));
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['not json']);
  });
});
