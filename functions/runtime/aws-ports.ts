import { AwsKmsAdapter } from '../core/adapters/aws-kms';
import { AwsMonitoring } from '../core/adapters/aws-monitoring';
import { AwsSecretsAdapter } from '../core/adapters/aws-secrets';
import { SfnExecutionStarter, SfnExecutions } from '../core/adapters/aws-sfn';
import { SqsQueues } from '../core/adapters/aws-sqs';
import { memoize, type Memo } from './memoize';

/**
 * The AWS side of a container, as ports: each adapter (and its SDK client)
 * made on first use and shared by everything the container builds, like the
 * AWS Encryption SDK's client supplier (`cacheClients(getClient)`). Region,
 * credentials and endpoints come from the environment as the SDK reads them
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS... point them at moto), unless
 * `endpoint` overrides them.
 */
export interface AwsPorts {
  kms(): AwsKmsAdapter;
  secrets(): AwsSecretsAdapter;
  queues(): SqsQueues;
  monitoring(): AwsMonitoring;
  /** Starts rewrap executions (the rotation hook, `rekey keys promote`). */
  executionStarter(stateMachineArn: string): SfnExecutionStarter;
  /** Starts and describes executions (`rekey redrive`). */
  executions(stateMachineArn: string): SfnExecutions;
}

export interface AwsPortsConfig {
  /** One endpoint for every service (tests, moto). @default the SDK's own resolution */
  readonly endpoint?: string;
}

export function awsPorts(config: AwsPortsConfig = {}): AwsPorts {
  const sdk = config.endpoint ? { endpoint: config.endpoint } : {};
  const kms = memoize(() => AwsKmsAdapter.fromConfig(sdk));
  const secrets = memoize(() => AwsSecretsAdapter.fromConfig(sdk));
  const queues = memoize(() => SqsQueues.fromConfig(sdk));
  const monitoring = memoize(() => new AwsMonitoring());
  const starters = perArn((arn) => new SfnExecutionStarter(arn));
  const executions = perArn((arn) => new SfnExecutions(arn));
  return {
    kms: () => kms.get(),
    secrets: () => secrets.get(),
    queues: () => queues.get(),
    monitoring: () => monitoring.get(),
    executionStarter: (arn) => starters(arn),
    executions: (arn) => executions(arn),
  };
}

function perArn<T>(build: (arn: string) => T): (arn: string) => T {
  const memos = new Map<string, Memo<T>>();
  return (arn) => {
    let memo = memos.get(arn);
    if (!memo) memos.set(arn, (memo = memoize(() => build(arn))));
    return memo.get();
  };
}
