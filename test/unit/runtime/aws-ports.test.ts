import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { SfnExecutionStarter } from '../../../functions/core/adapters/aws-sfn';
import { SqsQueues } from '../../../functions/core/adapters/aws-sqs';
import { awsPorts } from '../../../functions/runtime/aws-ports';

describe('awsPorts (the client supplier)', () => {
  it('makes each adapter on first use and hands the same one out afterwards', () => {
    const aws = awsPorts({ endpoint: 'http://127.0.0.1:1' });
    const kms = aws.kms();
    expect(kms).toBeInstanceOf(AwsKmsAdapter);
    expect(aws.kms()).toBe(kms);
    expect(aws.queues()).toBeInstanceOf(SqsQueues);
    expect(aws.queues()).toBe(aws.queues());
    expect(aws.secrets()).toBe(aws.secrets());
  });

  it('keeps one execution starter per state machine', () => {
    const aws = awsPorts();
    const a = aws.executionStarter('arn:aws:states:us-east-1:123456789012:stateMachine:a');
    expect(a).toBeInstanceOf(SfnExecutionStarter);
    expect(aws.executionStarter('arn:aws:states:us-east-1:123456789012:stateMachine:a')).toBe(a);
    expect(aws.executionStarter('arn:aws:states:us-east-1:123456789012:stateMachine:b')).not.toBe(a);
  });

  it('two suppliers share nothing (a keyring counts its own KMS calls)', () => {
    expect(awsPorts().kms()).not.toBe(awsPorts().kms());
  });
});
