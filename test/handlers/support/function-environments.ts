import { Template } from 'aws-cdk-lib/assertions';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RekeyStack } from '../../../lib/rekey-stack';

/** A function's environment with every value concrete. */
export type FunctionEnvironment = Record<string, string>;

/** The queues the test stands in for the stack's own (deploy-time Refs in the template). */
export interface TestQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/**
 * The environment of each pipeline function as the synthesized template sets
 * it, by state name. Deploy-time references are replaced by the test's
 * queues; any other reference fails, naming the function and the variable,
 * so a new one cannot slip past the handler tests unmapped.
 */
export function functionEnvironments(stack: RekeyStack, queues: TestQueues): Record<string, FunctionEnvironment> {
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Properties: { Environment?: { Variables: Record<string, unknown> } } }>;
  };
  const envOf = (fn: LambdaFunction, name: string): FunctionEnvironment => {
    const variables =
      template.Resources[stack.getLogicalId(fn.node.defaultChild as never)]!.Properties.Environment!.Variables;
    const concrete: FunctionEnvironment = {};
    for (const [key, value] of Object.entries(variables)) {
      if (typeof value === 'string') concrete[key] = value;
      else if (key === 'JOB_QUEUE_URL')
        concrete[key] = queues.queueUrl; // the stack's queue (a Ref), here moto's
      else if (key === 'DEAD_LETTER_QUEUE_URL')
        concrete[key] = queues.deadLetterQueueUrl; // CheckProgress looks for stuck batches there
      else
        throw new Error(`${name}: ${key} is a deploy-time reference this test does not map (${JSON.stringify(value)})`);
    }
    return concrete;
  };
  const { tasks } = stack.pipeline;
  return {
    ValidateInput: envOf(tasks.validateInput.function, 'ValidateInput'),
    Plan: envOf(tasks.plan.function, 'Plan'),
    Enqueue: envOf(tasks.enqueue.function, 'Enqueue'),
    CheckProgress: envOf(tasks.progress.function, 'CheckProgress'),
    Verify: envOf(tasks.verify.function, 'Verify'),
    Finalize: envOf(tasks.finalize.function, 'Finalize'),
    Worker: envOf(stack.pipeline.worker, 'Worker'),
    Inventory: envOf(stack.pipeline.inventory.function, 'Inventory'),
  };
}
