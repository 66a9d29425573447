import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Tracing, type FunctionProps } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { POWERTOOLS_ENV } from './environment';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/core/metrics-names';
import { FUNCTION_DEFAULTS } from './defaults';
import { allowCloudWatchLogs } from './key-policies';
import { ConstructUsageError } from './errors';
import { acknowledge, acknowledgeWildcards } from './nag';

/**
 * The package root: in this repository, where the entries, package-lock.json
 * and tsconfig.json live; in an installed package (this file compiled to
 * dist/lib/), the directory holding its package.json and dist/.
 */
export const PROJECT_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : path.join('..', '..'));

/** Path of a Lambda entry under functions/handlers. */
export function handlerEntry(name: string): string {
  return path.join(PROJECT_ROOT, 'functions', 'handlers', `${name}.ts`);
}

/** Where `npm pack` puts the handlers bundled with {@link BUNDLING} (scripts/bundle-handlers.ts), relative to {@link PROJECT_ROOT}. */
export const PREBUNDLED_HANDLERS_DIR = path.join('dist', 'handlers');

/** Directory of one pre-bundled handler (its index.js and index.js.map), as the installed package ships it. */
export function prebundledHandler(name: string): string {
  return path.join(PROJECT_ROOT, PREBUNDLED_HANDLERS_DIR, name);
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
 * runtime), arm64, bundled locally by esbuild ({@link BUNDLING}) from the
 * entry's source in this repository, or taken as bundled by `npm pack` from an
 * installed package, which ships no TypeScript sources; Powertools
 * environment; X-Ray active; its own KMS-encrypted log group with retention;
 * its own role with no managed policy.
 */
export class RekeyFunction extends Construct {
  /** A NodejsFunction when bundled from source (this repository), a Function of the pre-bundled code in an installed package. */
  readonly function: LambdaFunction;
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
      "Lambda names its log streams at run time; the wildcard is the stream part of this function's own log group ARN.",
    );
    for (const statement of props.statements ?? []) this.role.addToPolicy(statement);

    const settings = {
      runtime: FUNCTION_DEFAULTS.runtime,
      architecture: FUNCTION_DEFAULTS.architecture,
      memorySize: props.memorySize ?? FUNCTION_DEFAULTS.taskMemoryMiB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        [POWERTOOLS_ENV.serviceName]: SERVICE_NAME,
        [POWERTOOLS_ENV.metricsNamespace]: METRICS_NAMESPACE,
        [POWERTOOLS_ENV.logLevel]: FUNCTION_DEFAULTS.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    } satisfies Omit<FunctionProps, 'code' | 'handler'>;
    this.function = functionOfHandler(this, props.handler, settings);
    // Tracing.ACTIVE adds xray:PutTraceSegments / PutTelemetryRecords on "*" to the role's default policy.
    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (added by Tracing.ACTIVE).',
    );
  }
}

/** The function of one handler: bundled from its source when present, else the package's pre-bundled code. */
function functionOfHandler(
  scope: Construct,
  handler: string,
  settings: Omit<FunctionProps, 'code' | 'handler'>,
): LambdaFunction {
  const entry = handlerEntry(handler);
  if (fs.existsSync(entry)) {
    return new NodejsFunction(scope, 'Function', {
      ...settings,
      entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: BUNDLING,
    });
  }
  const bundled = prebundledHandler(handler);
  if (!fs.existsSync(path.join(bundled, 'index.js'))) {
    throw new ConstructUsageError(
      `rekey function "${handler}": neither its source (${entry}) nor its pre-bundled code (${path.join(bundled, 'index.js')}) exists; ` +
        'in a checkout, run `npm run build` to bundle the handlers',
    );
  }
  // The same handler name NodejsFunction gives its bundle (index.js exporting `handler`).
  return new LambdaFunction(scope, 'Function', {
    ...settings,
    code: Code.fromAsset(bundled),
    handler: 'index.handler',
  });
}
