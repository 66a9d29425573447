import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Topic, type ITopic, type TopicProps } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { allowCloudWatchAlarmsToPublish } from './key-policies';

/**
 * The SNS topic every alarm notifies, encrypted with the stack key, TLS only.
 * The topic policy is the topic's whole policy (it replaces SNS's default
 * one), so besides denying non-TLS requests it allows CloudWatch to publish
 * for this account's alarms (aws:SourceAccount, aws:SourceArn); the key
 * policy lets CloudWatch use the topic's KMS key.
 */
export function defaultAlarmTopicProps(key: IKey): TopicProps {
  return { displayName: 'rekey alarms', masterKey: key, enforceSSL: true };
}

/** CloudWatch may publish for this account's alarms only. */
export function cloudWatchPublishStatement(stack: Stack, topic: ITopic): PolicyStatement {
  return new PolicyStatement({
    sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
    principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  });
}

export function buildAlarmTopic(scope: Construct, key: IKey, emails: readonly string[] = []): Topic {
  allowCloudWatchAlarmsToPublish(key);
  const topic = new Topic(scope, 'AlarmTopic', defaultAlarmTopicProps(key));
  topic.addToResourcePolicy(cloudWatchPublishStatement(Stack.of(scope), topic));
  for (const email of emails) topic.addSubscription(new EmailSubscription(email));
  return topic;
}
