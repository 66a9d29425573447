import { cloudWatchMayPublish } from '../../../functions/core/doctor/topic-policy';

/** The alarm-delivery check's judgement of a topic policy (the moto run reads real policies in test/integration/cli/doctor.test.ts). */
const topic = 'arn:aws:sns:eu-west-1:111122223333:Rekey-AlarmTopic';
const tlsDeny = {
  Sid: 'AllowPublishThroughSSLOnly',
  Effect: 'Deny',
  Principal: '*',
  Action: 'sns:Publish',
  Resource: topic,
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const policy = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });

describe('cloudWatchMayPublish', () => {
  it('refuses the policy enforceSSL alone writes: a TLS Deny and no Allow (issue 10, item 1)', () => {
    expect(cloudWatchMayPublish(policy(tlsDeny))).toEqual({
      allowed: false,
      reason:
        "no statement allows cloudwatch.amazonaws.com to sns:Publish: the policy replaced SNS's default, so every alarm action is refused",
    });
  });

  it('accepts an Allow for the CloudWatch service principal beside the TLS Deny', () => {
    const allow = {
      Sid: 'CloudWatchAlarms',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: topic,
      Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
    };
    expect(cloudWatchMayPublish(policy(allow, tlsDeny))).toEqual({
      allowed: true,
      reason: 'statement CloudWatchAlarms allows it',
    });
  });

  it("accepts SNS's default policy (everyone in the account, by condition) and no policy at all", () => {
    const defaults = {
      Sid: '__default_statement_ID',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['SNS:GetTopicAttributes', 'SNS:Publish'],
      Resource: topic,
      Condition: { StringEquals: { 'AWS:SourceOwner': '111122223333' } },
    };
    expect(cloudWatchMayPublish(policy(defaults)).allowed).toBe(true);
    expect(cloudWatchMayPublish(null).allowed).toBe(true);
  });

  it('refuses an unconditional Deny even beside an Allow, and a policy that is not JSON', () => {
    const allow = { Effect: 'Allow', Principal: { Service: ['cloudwatch.amazonaws.com'] }, Action: 'sns:*' };
    const deny = { Sid: 'Lockdown', Effect: 'Deny', Principal: '*', Action: '*' };
    expect(cloudWatchMayPublish(policy(allow, deny))).toEqual({
      allowed: false,
      reason: 'statement Lockdown denies sns:Publish without a condition',
    });
    expect(cloudWatchMayPublish('{').allowed).toBe(false);
  });

  it('an Allow for another service does not count', () => {
    expect(
      cloudWatchMayPublish(
        policy({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish' }),
      ).allowed,
    ).toBe(false);
  });
});
