import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { resetPipelineContainer } from '../../../functions/runtime/pipeline-container';
import type { EncryptedColumnRegistry } from '../../../lib/registry';
import { RekeyStack } from '../../../lib/rekey-stack';
import type { awsClientConfig } from '../../support/aws';
import { lambdaContext, sqsRecordOfMessage } from '../../support/lambda';
import { DATABASE, ENV, testApp } from '../../infra/support';
import { functionEnvironments, type FunctionEnvironment, type TestQueues } from './function-environments';

/**
 * What the handler suites that run every function with its synthesized
 * environment share: moto queues standing in for the stack's, the
 * environments of a kms-mode stack, and a function call made as Lambda makes
 * it (a new container whose process environment is the function's own plus
 * the AWS plumbing).
 */

type AwsPlumbing = ReturnType<typeof awsClientConfig>;

/** The batch queue and its dead-letter queue in moto, with a reader of every message sent to the batch queue. */
export interface MotoQueues extends TestQueues {
  /** Every message on the batch queue, as SQS event records of the stack's queue. */
  receiveRecords(): Promise<SQSRecord[]>;
  delete(): Promise<void>;
}

export async function createMotoQueues(plumbing: AwsPlumbing, prefix: string): Promise<MotoQueues> {
  const sqs = new SQSClient(plumbing);
  const create = async (name: string): Promise<string> =>
    (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${randomUUID().slice(0, 8)}` }))).QueueUrl!;
  const queueUrl = await create(prefix);
  const deadLetterQueueUrl = await create(`${prefix}-dlq`);
  return {
    queueUrl,
    deadLetterQueueUrl,
    async receiveRecords() {
      const all: Message[] = [];
      for (;;) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
        if (!r.Messages?.length) break;
        all.push(...r.Messages);
      }
      return all.map((m) => sqsRecordOfMessage(m, 'arn:aws:sqs:us-east-1:123456789012:batches'));
    },
    async delete() {
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl: deadLetterQueueUrl }));
      sqs.destroy();
    },
  };
}

/** Each pipeline function's environment in the stack a kms-mode deployment synthesizes (a new KMS key in moto). */
export async function kmsStackEnvironments(options: {
  readonly plumbing: AwsPlumbing;
  readonly registry: EncryptedColumnRegistry;
  readonly queues: TestQueues;
  readonly keyDescription: string;
  readonly legacyKeysSecretArn?: string;
}): Promise<Record<string, FunctionEnvironment>> {
  const kms = new KMSClient(options.plumbing);
  const kmsKeyArn = (await kms.send(new CreateKeyCommand({ Description: options.keyDescription }))).KeyMetadata!.Arn!;
  kms.destroy();
  const stack = new RekeyStack(testApp(), 'Rekey', {
    env: ENV,
    registry: options.registry,
    database: DATABASE,
    keyring: 'kms',
    kmsKeyArn,
    ...(options.legacyKeysSecretArn ? { legacyKeysSecretArn: options.legacyKeysSecretArn } : {}),
  });
  return functionEnvironments(stack, options.queues);
}

/** Calls a handler as Lambda would; `process.env` is left as the last function's (the suite restores it). */
export type AsFunction = <T>(
  name: string,
  env: FunctionEnvironment,
  call: (context: Context) => Promise<T>,
) => Promise<T>;

/**
 * `asFunction(name, env, call)`: a new container runtime, `process.env` the
 * function's environment plus region, credentials and the endpoints of moto
 * and the Data API test endpoint, and a context with the function's full
 * default timeout (the worker claims a batch only with its whole budget left).
 */
export function asDeployedFunction(deployment: {
  readonly plumbing: AwsPlumbing;
  readonly dataApiEndpoint: string;
  /** The PATH the function keeps (the suite's, saved before it changes process.env). */
  readonly path: string | undefined;
}): AsFunction {
  const { plumbing } = deployment;
  return async (name, env, call) => {
    await resetPipelineContainer();
    process.env = {
      PATH: deployment.path,
      ...env,
      AWS_LAMBDA_FUNCTION_NAME: `rekey-${name}`,
      AWS_REGION: plumbing.region,
      AWS_ACCESS_KEY_ID: plumbing.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: plumbing.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_RDS_DATA: deployment.dataApiEndpoint,
      AWS_ENDPOINT_URL_SQS: plumbing.endpoint,
      AWS_ENDPOINT_URL_KMS: plumbing.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: plumbing.endpoint,
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    return call(lambdaContext(name, { remainingMs: 180_000 }));
  };
}
