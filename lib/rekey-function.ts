import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/core/metrics-names';
import { FUNCTION_DEFAULTS } from './defaults';
import { allowCloudWatchLogs } from './key-policies';
import { acknowledge, acknowledgeWildcards } from './nag';

/** The repository root: entries, package-lock.json and tsconfig.json live there. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** Path of a Lambda entry under functions/handlers. */
export function handlerEntry(name: string): string {
  return path.join(PROJECT_ROOT, 'functions', 'handlers', `${name}.ts`);
}

/**
 * esbuild settings of every rekey function: local esbuild, never Docker;
 * CommonJS for the Node.js runtime (esbuild turns @middy/core's ESM into it);
 * everything bundled, the AWS SDK v3 included — the version we test against,
 * not whatever the runtime ships that week — except pg's optional native
 * binding, which the Data API path never loads.
 */
export const BUNDLING: BundlingOptions = {
  forceDockerBundling: false,
  minify: true,
  // Error classes name themselves after their class (RekeyError: `this.name = new.target.name`), and
  // that name is what Lambda reports as errorType, Step Functions matches in Retry/Catch and the logs
  // show: minifying must not rename classes.
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  target: 'node24',
  format: OutputFormat.CJS,
  externalModules: ['pg-native'],
  mainFields: ['module', 'main'],
  tsconfig: path.join(PROJECT_ROOT, 'tsconfig.json'),
};

export interface RekeyFunctionProps {
  /** Entry file name under functions/handlers, without `.ts` (e.g. `plan`). */
  readonly handler: string;
  /** Encrypts the function's log group. */
  readonly key: IKey;
  readonly timeout: Duration;
  /** @default FUNCTION_DEFAULTS.taskMemoryMiB */
  readonly memorySize?: number;
  /** @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** Statements of the function's own role, beyond logging and tracing. */
  readonly statements?: readonly PolicyStatement[];
}

/**
 * One rekey Lambda function with the project's settings: Node.js (newest
 * runtime), arm64, bundled locally by esbuild ({@link BUNDLING}); Powertools
 * environment; X-Ray active; its own KMS-encrypted log group with retention;
 * its own role with no managed policy.
 */
export class RekeyFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: RekeyFunctionProps) {
    super(scope, id);
    allowCloudWatchLogs(props.key);

    this.logGroup = new LogGroup(this, 'Logs', {
      encryptionKey: props.key,
      retention: FUNCTION_DEFAULTS.logRetention,
      // Logs are audit evidence of who rotated what: they outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `rekey ${props.handler} function`,
    });
    const logging = new PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    });
    this.role.addToPolicy(logging);
    acknowledgeWildcards(
      this.role,
      logging,
      'Lambda names its log streams at run time; the wildcard is the stream part of this function\'s own log group ARN.',
    );
    for (const statement of props.statements ?? []) this.role.addToPolicy(statement);

    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: FUNCTION_DEFAULTS.runtime,
      architecture: FUNCTION_DEFAULTS.architecture,
      memorySize: props.memorySize ?? FUNCTION_DEFAULTS.taskMemoryMiB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: FUNCTION_DEFAULTS.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: BUNDLING,
    });
    // Tracing.ACTIVE adds xray:PutTraceSegments / PutTelemetryRecords on "*" to the role's default policy.
    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (added by Tracing.ACTIVE).',
    );
  }
}
