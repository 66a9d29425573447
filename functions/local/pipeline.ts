import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { QUEUE_DEFAULTS } from '../../lib/defaults';
import { TASK_HANDLERS } from '../../lib/reencryption-definition';
import { synthesizeStateMachineDefinition, type StateMachineDefinition } from '../../lib/synthesize-definition';
import { DEFAULT_REGISTRY_FILE, loadRegistry, parseRegistry } from '../core/reencrypt/config/registry';
import { resetContainerRuntime } from '../handlers/shared/runtime';
import { LocalPipelineOptionsError } from './errors';
import { lambdaContext } from './lambda-events';
import { SqsEventSource } from './sqs-event-source';
import { runLocalStateMachine, type AslDefinition } from './state-machine-runner';

export interface LocalPipelineOptions {
  /** The execution input: `{mode, tables?, batchSize?, dryRun?, maxErrorRate?, targetKeyId?, tenant?}`. */
  readonly input: unknown;
  /** The PostgreSQL the handlers use (DATABASE_URL in their environment). */
  readonly databaseUrl: string;
  /** SQS endpoint (moto_server), e.g. http://127.0.0.1:5000. */
  readonly sqsEndpoint: string;
  /** The registry: an object (rekey.config.json content) or a file path. Default: REKEY_REGISTRY, else ./rekey.config.json. */
  readonly registry?: unknown;
  /**
   * Keyring variables for the handlers (SECRETS_ENCRYPTION_KEY, _PREVIOUS...).
   * Default: those already in process.env. Only passed through, never logged.
   */
  readonly keyEnv?: Readonly<Record<string, string>>;
  /** The state machine definition; default: synthesized from lib/ now (about 10 s). */
  readonly definition?: StateMachineDefinition;
  /** Concurrent SQS pollers (the event source mapping's maximum concurrency). @default 2 */
  readonly workers?: number;
  /** Replace a handler (tests: fault injection), by state name or 'Worker'. */
  readonly wrap?: (name: string, handler: LocalHandler) => LocalHandler;
  /** Every aws-local-stepfunctions event (state entered / exited with its input and output, retries...). */
  readonly onEvent?: (event: Record<string, unknown>) => void;
  /**
   * Queues that outlive the run (createPipelineQueues), so a later run or
   * `rekey redrive` finds what this one left in the DLQ. @default - created for the run and deleted after it
   */
  readonly queues?: PipelineQueues;
  /** The execution's name (its id is `arn:aws:states:local:000000000000:execution:rekey:<name>`). @default local-<random> */
  readonly executionName?: string;
  /** CheckProgress's quiet window before a job with batches in the DLQ fails as stuck (STUCK_AFTER_SECONDS). @default 900 */
  readonly stuckAfterSeconds?: number;
  /** Let the handlers publish their CloudWatch metrics (EMF lines on stdout), as on AWS. @default false (quiet local runs) */
  readonly metrics?: boolean;
}

/** The batch queue and its DLQ (maxReceiveCount as the stack sets it). */
export interface PipelineQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/** The state machine ARN the local runner plays (execution ids derive from it). */
export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:rekey';

/** Creates a batch queue with a DLQ after maxReceiveCount receives, as the stack does. */
export async function createPipelineQueues(
  sqs: SQSClient,
  suffix = Math.random().toString(36).slice(2, 10),
): Promise<PipelineQueues> {
  const deadLetterQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `rekey-dlq-${suffix}` }))).QueueUrl!;
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes!.QueueArn!;
  const queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `rekey-jobs-${suffix}`,
        Attributes: {
          VisibilityTimeout: '30',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: QUEUE_DEFAULTS.maxReceiveCount,
          }),
        },
      }),
    )
  ).QueueUrl!;
  return { queueUrl, deadLetterQueueUrl };
}

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalPipelineRun {
  /** The execution's output when it succeeded. */
  readonly output: unknown;
  /** How it failed otherwise, as Step Functions reports it: the Fail state's Error (RekeyCompletedWithErrors, RekeyJobAborted, or the failed task's error name via JobFailed) and Cause. */
  readonly error?: { readonly name: string; readonly message: string };
  /** State names entered, in order. */
  readonly history: readonly string[];
  /** The same states with their types, for history-size arithmetic. */
  readonly states: readonly { readonly name: string; readonly type: string }[];
  /** Every Task output, for payload checks (ids and counts only). */
  readonly taskOutputs: readonly { state: string; output: unknown }[];
  /** Worker invocations and messages, as the event source saw them. */
  readonly worker: SqsEventSource['stats'];
  /** Messages SQS had moved to the dead-letter queue when the run ended. */
  readonly deadLetters: number;
}

/**
 * Runs the re-encryption pipeline on one machine: the state machine
 * definition `cdk synth` produces, executed by aws-local-stepfunctions with
 * every Task state routed by name to the real handler in functions/handlers,
 * the Enqueue handler sending to a real SQS queue (moto) with a DLQ after
 * maxReceiveCount, and the real worker handler fed by that queue as Lambda's
 * event source mapping would. The queues are created for the run and deleted
 * after it.
 *
 * The handlers read their configuration from the environment, as on Lambda:
 * process.env is set for the run and restored afterwards, so runs must not
 * overlap in one process.
 */
export async function runLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipelineRun> {
  const problems = [
    ...(options.databaseUrl ? [] : ['databaseUrl is required (postgres://...)']),
    ...(options.sqsEndpoint ? [] : ['sqsEndpoint is required (moto_server, e.g. http://127.0.0.1:5000)']),
    ...(options.workers === undefined || (Number.isInteger(options.workers) && options.workers >= 1)
      ? []
      : ['workers must be a whole number ≥ 1']),
  ];
  if (problems.length > 0) throw new LocalPipelineOptionsError(problems);
  const registry = resolveRegistry(options.registry);

  const saved = { ...process.env };
  // moto accepts any credentials; a machine without any still needs some to sign requests.
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  const sqs = new SQSClient({ endpoint: options.sqsEndpoint, region: process.env.AWS_REGION });
  const suffix = Math.random().toString(36).slice(2, 10);
  const queues: string[] = [];
  const source: { events?: SqsEventSource } = {};
  try {
    const owned = options.queues === undefined;
    const { queueUrl, deadLetterQueueUrl: dlqUrl } = options.queues ?? (await createPipelineQueues(sqs, suffix));
    if (owned) queues.push(dlqUrl, queueUrl);

    Object.assign(process.env, options.keyEnv ?? {}, {
      DATABASE_URL: options.databaseUrl,
      KEYRING_KIND: 'raw',
      REKEY_REGISTRY: JSON.stringify(registry),
      JOB_QUEUE_URL: queueUrl,
      DEAD_LETTER_QUEUE_URL: dlqUrl,
      ...(options.stuckAfterSeconds !== undefined ? { STUCK_AFTER_SECONDS: String(options.stuckAfterSeconds) } : {}),
      AWS_ENDPOINT_URL_SQS: options.sqsEndpoint,
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
      POWERTOOLS_LOG_LEVEL: saved.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });
    await resetContainerRuntime();

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
      batchSize: QUEUE_DEFAULTS.workerBatchSize,
      region: process.env.AWS_REGION,
      handler: (event) => workerHandler(event, lambdaContext('Worker')) as never,
    });
    source.events = events;
    await events.start();
    const execution = runLocalStateMachine(definition as AslDefinition, options.input, {
      tasks,
      defaultWaitMs: 100,
      retryIntervalMs: 10,
      executionName: options.executionName ?? `local-${suffix}`,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    let output: unknown;
    let error: { name: string; message: string } | undefined;
    try {
      output = await execution.result;
    } catch (err) {
      // Report it as Step Functions does: the Fail state's (or uncaught task's) Error and Cause.
      const failure = execution.failure();
      const e = err as { name?: string; message?: string };
      error = failure
        ? { name: failure.error, message: failure.cause }
        : { name: e.name ?? 'Error', message: e.message ?? String(err) };
    }
    await events.stop();
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return {
      output,
      ...(error ? { error } : {}),
      history: execution.history,
      states: execution.states,
      taskOutputs,
      worker: events.stats,
      deadLetters: Number(dlq.Attributes?.ApproximateNumberOfMessages ?? 0),
    };
  } finally {
    await source.events?.stop();
    await resetContainerRuntime();
    for (const url of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    sqs.destroy();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/**
 * The registry as the handlers get it (REKEY_REGISTRY, the config file's JSON):
 * given, or from REKEY_REGISTRY, or from ./rekey.config.json. Validated here,
 * so a bad one fails before any queue exists; passed on as written.
 */
function resolveRegistry(given: unknown): unknown {
  if (given === undefined && process.env.REKEY_REGISTRY) {
    const raw = JSON.parse(process.env.REKEY_REGISTRY) as unknown;
    parseRegistry(raw, 'REKEY_REGISTRY');
    return raw;
  }
  if (given === undefined || typeof given === 'string') {
    const file = resolve(given ?? DEFAULT_REGISTRY_FILE);
    loadRegistry(file);
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  }
  parseRegistry(given, 'registry option');
  return given;
}
