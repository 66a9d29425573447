import { ENV, POWERTOOLS_ENV, RUNTIME_ENV } from '../core/environment-names';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { QUEUE_DEFAULTS } from '../../lib/defaults';
import { TASK_HANDLERS } from '../../lib/reencryption-definition';
import { synthesizeStateMachineDefinition, type StateMachineDefinition } from '../../lib/synthesize-definition';
import { LOCAL_RUNTIME_SHAPE } from '../core/plan/pipeline-shape';
import { DEFAULT_REGISTRY_FILE, loadRegistry, parseRegistry } from '../core/reencrypt/config/registry';
import { resetPipelineContainer } from '../runtime/pipeline-container';
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
  /** Concurrent SQS pollers (the event source mapping's maximum concurrency). @default LOCAL_RUNTIME_SHAPE.workers (2) */
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
export const LOCAL_STATE_MACHINE_ARN = `${LOCAL_RUNTIME_SHAPE.executionArnPrefix}000000000000:stateMachine:rekey`;

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
  checkPipelineOptions(options);
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

    Object.assign(process.env, options.keyEnv ?? {}, handlerEnvironment(options, registry, queueUrl, dlqUrl, saved));
    await resetPipelineContainer();

    const definition = options.definition ?? synthesizeStateMachineDefinition();
    const wrap = options.wrap ?? ((_n: string, h: LocalHandler) => h);
    const taskOutputs: { state: string; output: unknown }[] = [];
    const tasks = await loadTaskHandlers(wrap, taskOutputs);
    const events = await workerEventSource(sqs, queueUrl, options, wrap);
    source.events = events;
    await events.start();
    const execution = runLocalStateMachine(definition as AslDefinition, options.input, {
      tasks,
      defaultWaitMs: LOCAL_RUNTIME_SHAPE.waitMs,
      retryIntervalMs: LOCAL_RUNTIME_SHAPE.retryIntervalMs,
      executionName: options.executionName ?? `local-${suffix}`,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    const { output, error } = await executionOutcome(execution);
    await events.stop();
    const deadLetters = await queuedMessages(sqs, dlqUrl);
    return {
      output,
      ...(error ? { error } : {}),
      history: execution.history,
      states: execution.states,
      taskOutputs,
      worker: events.stats,
      deadLetters,
    };
  } finally {
    await source.events?.stop();
    await resetPipelineContainer();
    for (const url of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    sqs.destroy();
    restoreEnvironment(saved);
  }
}

/** Every problem with the options in one error, before anything is created. */
function checkPipelineOptions(options: LocalPipelineOptions): void {
  const problems = [
    ...(options.databaseUrl ? [] : ['databaseUrl is required (postgres://...)']),
    ...(options.sqsEndpoint ? [] : ['sqsEndpoint is required (moto_server, e.g. http://127.0.0.1:5000)']),
    ...(options.workers === undefined || (Number.isInteger(options.workers) && options.workers >= 1)
      ? []
      : ['workers must be a whole number ≥ 1']),
  ];
  if (problems.length > 0) throw new LocalPipelineOptionsError(problems);
}

/** The handlers' configuration, as the stack sets it on each Lambda function. */
function handlerEnvironment(
  options: LocalPipelineOptions,
  registry: unknown,
  queueUrl: string,
  dlqUrl: string,
  saved: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  return {
    [RUNTIME_ENV.databaseUrl]: options.databaseUrl,
    [ENV.keyringKind]: 'raw',
    [ENV.registry]: JSON.stringify(registry),
    [ENV.jobQueueUrl]: queueUrl,
    [ENV.deadLetterQueueUrl]: dlqUrl,
    ...(options.stuckAfterSeconds !== undefined ? { [ENV.stuckAfterSeconds]: String(options.stuckAfterSeconds) } : {}),
    [RUNTIME_ENV.sqsEndpoint]: options.sqsEndpoint,
    POWERTOOLS_DEV: 'true',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    [POWERTOOLS_ENV.logLevel]: saved[POWERTOOLS_ENV.logLevel] ?? 'WARN',
  };
}

/** Each Task state's real handler, by state name, recording what it returned. */
async function loadTaskHandlers(
  wrap: NonNullable<LocalPipelineOptions['wrap']>,
  taskOutputs: { state: string; output: unknown }[],
): Promise<Record<string, (payload: unknown) => Promise<unknown>>> {
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
  return tasks;
}

/** The real worker handler fed by the job queue, as Lambda's event source mapping would (not started yet). */
async function workerEventSource(
  sqs: SQSClient,
  queueUrl: string,
  options: LocalPipelineOptions,
  wrap: NonNullable<LocalPipelineOptions['wrap']>,
): Promise<SqsEventSource> {
  const worker = (await import('../handlers/worker')) as { handler: LocalHandler };
  const workerHandler = wrap('Worker', worker.handler);
  return new SqsEventSource({
    client: sqs,
    queueUrl,
    maxConcurrency: options.workers ?? LOCAL_RUNTIME_SHAPE.workers,
    batchSize: QUEUE_DEFAULTS.workerBatchSize,
    region: process.env.AWS_REGION,
    handler: (event) => workerHandler(event, lambdaContext('Worker')) as never,
  });
}

/** The execution's output, or its failure reported as Step Functions does: the Fail state's (or uncaught task's) Error and Cause. */
async function executionOutcome(
  execution: ReturnType<typeof runLocalStateMachine>,
): Promise<{ output: unknown; error?: { name: string; message: string } }> {
  let output: unknown;
  let error: { name: string; message: string } | undefined;
  try {
    output = await execution.result;
  } catch (err) {
    const failure = execution.failure();
    const e = err as { name?: string; message?: string };
    error = failure
      ? { name: failure.error, message: failure.cause }
      : { name: e.name ?? 'Error', message: e.message ?? String(err) };
  }
  return { output, ...(error ? { error } : {}) };
}

/** Messages in a queue (SQS's approximate count). */
async function queuedMessages(sqs: SQSClient, queueUrl: string): Promise<number> {
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0);
}

/** process.env as it was before the run: variables the run added are removed, changed ones restored. */
function restoreEnvironment(saved: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
}

/**
 * The registry as the handlers get it (REKEY_REGISTRY, the config file's JSON):
 * given, or from REKEY_REGISTRY, or from ./rekey.config.json. Validated here,
 * so a bad one fails before any queue exists; passed on as written.
 */
function resolveRegistry(given: unknown): unknown {
  const fromEnv = process.env[ENV.registry];
  if (given === undefined && fromEnv) {
    const raw = JSON.parse(fromEnv) as unknown;
    parseRegistry(raw, ENV.registry);
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
