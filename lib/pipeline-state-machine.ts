import { Aws, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type LogGroupProps } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, QueryLanguage, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { FUNCTION_DEFAULTS, JOB_DEFAULTS, PROGRESS_DEFAULTS } from './defaults';
import { acknowledge, wildcardResourceFindingId } from './nag';
import type { PipelineFunctions } from './pipeline-functions';
import type { PipelineSettings } from './pipeline-settings';
import { buildReencryptionDefinition, type ReencryptionDefinitionOptions } from './reencryption-definition';

/**
 * The re-encryption state machine (Standard, JSONPath, X-Ray, every event
 * logged to a KMS-encrypted, retained log group) over the definition of
 * reencryption-definition.ts: its settings as pure functions, then a builder.
 */

/** Execution logs, encrypted with the stack key and kept when the stack is deleted. */
export function stateMachineLogGroupProps(scope: Construct, key: IKey): LogGroupProps {
  return {
    // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' account resource policy from growing per state machine.
    // The stack id's UUID makes the name unique per stack creation: the group is retained on delete, and a
    // stack destroyed and deployed again under the same name gets a new group instead of colliding with it.
    logGroupName: `/aws/vendedlogs/states/${Stack.of(scope).stackName}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
    encryptionKey: key,
    retention: FUNCTION_DEFAULTS.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/** What the definition is parameterized with: the defaults ValidateInput applies, Enqueue's batch count, the progress pacing. */
export function definitionOptions(settings: PipelineSettings): ReencryptionDefinitionOptions {
  return {
    batchSize: settings.batchSize,
    maxErrorRate: settings.maxErrorRate,
    maxTables: JOB_DEFAULTS.maxTablesPerExecution,
    enqueueBatchesPerInvocation: settings.enqueueBatchesPerInvocation,
    minWaitSeconds: settings.minWaitSeconds,
    maxWaitSeconds: settings.maxWaitSeconds,
    waitFraction: PROGRESS_DEFAULTS.waitFraction,
  };
}

export function buildReencryptionStateMachine(
  scope: Construct,
  tasks: PipelineFunctions['tasks'],
  settings: PipelineSettings,
  logGroup: LogGroup,
): StateMachine {
  const definition = buildReencryptionDefinition(
    scope,
    {
      validateInput: tasks.validateInput.function,
      plan: tasks.plan.function,
      enqueue: tasks.enqueue.function,
      progress: tasks.progress.function,
      verify: tasks.verify.function,
      finalize: tasks.finalize.function,
      abort: tasks.abort.function,
      markFailed: tasks.markFailed.function,
    },
    definitionOptions(settings),
  );
  const stateMachine = new StateMachine(scope, 'StateMachine', {
    comment: 'rekey: plan, fan batches out through SQS to Lambda workers, watch progress, verify, retire the old key',
    definitionBody: DefinitionBody.fromChainable(definition),
    stateMachineType: StateMachineType.STANDARD,
    queryLanguage: QueryLanguage.JSON_PATH,
    timeout: settings.executionTimeout,
    tracingEnabled: true,
    // Payloads are ids and counts only, so logging execution data exposes no secret.
    logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: true },
  });
  acknowledgeStateMachineRole(stateMachine, tasks);
  return stateMachine;
}

/** cdk-nag: the wildcards the state machine's role needs, each with its reason. */
function acknowledgeStateMachineRole(stateMachine: StateMachine, tasks: PipelineFunctions['tasks']): void {
  const role = stateMachine.role;
  acknowledge(
    role,
    'AwsSolutions-IAM5[Resource::*]',
    'Step Functions log delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) support no resource-level permissions.',
  );
  for (const task of Object.values(tasks)) {
    acknowledge(
      role,
      wildcardResourceFindingId(role, `${task.function.functionArn}:*`),
      'LambdaInvoke grants the task function and its versions/aliases (<arn>:*); only this function is reachable.',
    );
  }
}
