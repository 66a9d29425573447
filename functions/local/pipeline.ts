import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { synthesizeStateMachineDefinition, type StateMachineDefinition } from '../../lib/synthesize-definition';
import { TASK_HANDLERS } from '../../lib/reencryption-definition';
import { resetContainerRuntime } from '../handlers/shared/runtime';
import { SqsEventSource } from './sqs-event-source';
import { runLocalStateMachine, type AslDefinition } from './state-machine-runner';

export interface LocalPipelineOptions {
  /** The PostgreSQL the handlers use (DATABASE_URL in their environment). */
  readonly databaseUrl: string;
  /** SQS endpoint (moto_server). */
  readonly sqsEndpoint: string;
  /** The registry JSON (rekey.config.json content). */
  readonly registry: unknown;
  /** Keyring variables for the handlers (SECRETS_ENCRYPTION_KEY…). Only passed through, never logged. */
  readonly keyEnv: Readonly<Record<string, string>>;
  /** The state machine definition; default: synthesized from lib/ now. */
  readonly definition?: StateMachineDefinition;
  /** Concurrent SQS pollers (the event source mapping's maximum concurrency). @default 2 */
  readonly workers?: number;
  /** Replace a handler (tests: fault injection), by state name or 'Worker'. */
  readonly wrap?: (name: string, handler: LocalHandler) => LocalHandler;
  readonly onEvent?: (event: Record<string, unknown>) => void;
}

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalPipelineRun {
  readonly output: unknown;
  readonly error?: { readonly name: string; readonly message: string };
  /** State names entered, in order. */
  readonly history: readonly string[];
  /** Every Task output, for payload checks (ids and counts only). */
  readonly taskOutputs: readonly { state: string; output: unknown }[];
  readonly queue: { readonly url: string; readonly dlqUrl: string };
  readonly worker: SqsEventSource['stats'];
}

/**
 * Runs the re-encryption pipeline on one machine: the state machine
 * definition `cdk synth` produces, executed by aws-local-stepfunctions with
 * every Task state routed by name to the real handler in functions/handlers,
 * the Enqueue handler sending to a real SQS queue (moto), and the real worker
 * handler fed by that queue as Lambda's event source mapping would.
 */
export async function runLocalPipeline(input: unknown, options: LocalPipelineOptions): Promise<LocalPipelineRun> {
  const sqs = new SQSClient({ endpoint: options.sqsEndpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  const suffix = Math.random().toString(36).slice(2, 10);
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `rekey-dlq-${suffix}` }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `rekey-jobs-${suffix}`,
      Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) },
    }),
  );
  const queueUrl = queue.QueueUrl!;

  // The handlers read their configuration from the environment, as on Lambda.
  const saved = { ...process.env };
  Object.assign(process.env, options.keyEnv, {
    DATABASE_URL: options.databaseUrl,
    KEYRING_KIND: 'raw',
    REKEY_REGISTRY: JSON.stringify(options.registry),
    JOB_QUEUE_URL: queueUrl,
    AWS_ENDPOINT_URL_SQS: options.sqsEndpoint,
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  });
  await resetContainerRuntime();
  const source = { stop: async (): Promise<void> => undefined } as { stop(): Promise<void> };
  try {
    const definition = options.definition ?? synthesizeStateMachineDefinition();
    const wrap = options.wrap ?? ((_n: string, h: LocalHandler) => h);
    const taskOutputs: { state: string; output: unknown }[] = [];
    const tasks: Record<string, (payload: unknown) => Promise<unknown>> = {};
    for (const [state, file] of Object.entries(TASK_HANDLERS)) {
      const mod = (await import(`../handlers/${file}`)) as { handler: LocalHandler };
      const handler = wrap(state, mod.handler);
      tasks[state] = async (payload) => {
        const output = await handler(payload, lambdaContext(state));
        taskOutputs.push({ state, output });
        return output;
      };
    }
    const worker = (await import('../handlers/worker')) as { handler: LocalHandler };
    const workerHandler = wrap('Worker', worker.handler);
    const events = new SqsEventSource({
      client: sqs,
      queueUrl,
      maxConcurrency: options.workers ?? 2,
      handler: (event) => workerHandler(event, lambdaContext('Worker')) as never,
    });
    await events.start();
    source.stop = () => events.stop();
    const execution = runLocalStateMachine(definition as AslDefinition, input, {
      tasks,
      defaultWaitMs: 100,
      retryIntervalMs: 10,
      executionName: `local-${suffix}`,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    let output: unknown;
    let error: { name: string; message: string } | undefined;
    try {
      output = await execution.result;
    } catch (err) {
      const e = err as { name?: string; message?: string };
      error = { name: e.name ?? 'Error', message: e.message ?? String(err) };
    }
    await events.stop();
    return {
      output,
      ...(error ? { error } : {}),
      history: execution.history,
      taskOutputs,
      queue: { url: queueUrl, dlqUrl: dlq.QueueUrl! },
      worker: events.stats,
    };
  } finally {
    await source.stop();
    await resetContainerRuntime();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `rekey-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:rekey-${name}`,
    memoryLimitInMB: '1024',
    awsRequestId: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
    logGroupName: `/aws/lambda/rekey-${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 300_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
