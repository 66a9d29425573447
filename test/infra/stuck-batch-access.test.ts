import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { ReencryptionPipeline } from '../../lib/reencryption-pipeline';
import { ENV as FUNCTION_ENV } from '../../lib/environment';
import { actionsOf, resourcesOf, SYNTH_TIMEOUT_MS, testStack, pipelineProps } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

/**
 * CheckProgress detects stuck batches (functions/core/pipeline/stuck-batches.ts):
 * its function must know both queues and may read the DLQ — depth, receive,
 * release — but never delete from it or send (only `rekey redrive` moves messages).
 */
describe('CheckProgress can see the dead-letter queue', () => {
  const { stack, key } = testStack();
  const pipeline = new ReencryptionPipeline(stack, 'Pipeline', pipelineProps(key));
  const template = Template.fromStack(stack);
  const ref = (c: { node: { defaultChild?: unknown } }) => ({
    Ref: Stack.of(stack).getLogicalId(c.node.defaultChild as never),
  });
  const arn = (c: { node: { defaultChild?: unknown } }) => ({
    'Fn::GetAtt': [Stack.of(stack).getLogicalId(c.node.defaultChild as never), 'Arn'],
  });
  const progress = pipeline.tasks.progress.function;
  const roleId = Stack.of(stack).getLogicalId(progress.role!.node.defaultChild as never);
  const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement);

  test("its environment names both queues and a quiet window longer than a receive's invisibility", () => {
    const env = (
      stack.resolve((progress.node.defaultChild as CfnFunction).environment) as { variables: Record<string, unknown> }
    ).variables;
    expect(env[FUNCTION_ENV.deadLetterQueueUrl]).toEqual(ref(pipeline.deadLetterQueue));
    expect(env[FUNCTION_ENV.jobQueueUrl]).toEqual(ref(pipeline.queue));
    expect(Number(env[FUNCTION_ENV.stuckAfterSeconds])).toBeGreaterThanOrEqual(2 * 6 * 60);
  });

  test("it may read the DLQ and both queues' depth, and may not delete or send", () => {
    expect(statements.length).toBeGreaterThan(0);
    const onDlq = statements.filter((s) =>
      JSON.stringify(s.Resource).includes(JSON.stringify(arn(pipeline.deadLetterQueue))),
    );
    expect(onDlq.flatMap((s) => actionsOf(s as never)).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
    const all = statements.flatMap((s) => actionsOf(s as never));
    expect(all.filter((a) => /^sqs:(Delete|Send|Purge)/.test(a))).toEqual([]);
    expect(all).toContain('kms:Decrypt'); // the DLQ is encrypted with the stack key
  });
});
