import { refusal, resolveValue, type Json, type Pseudo } from './policy-walk';

type Resources = Record<string, { Type: string; Properties?: Json }>;

/** One alarm → action → topic → topic policy → topic key policy link, and what refuses it (undefined: allowed). */
export interface DeliveryLink {
  readonly alarm: string;
  readonly step: string;
  readonly refused?: string;
}

/**
 * Walks every alarm of a template to the topics its actions name, and checks
 * that CloudWatch, publishing for that alarm, is allowed by the topic policy
 * (which replaces SNS's default) and by the topic's KMS key policy (SNS asks
 * KMS for a data key as CloudWatch). Returns one link per alarm and step.
 */
export function walkAlarmDelivery(template: { Resources: Resources }, pseudo: Pseudo): DeliveryLink[] {
  const resources = template.Resources;
  const links: DeliveryLink[] = [];
  for (const [alarmId, alarm] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')) {
    const p = alarm.Properties ?? {};
    const actions = [
      ...((p.AlarmActions as unknown[]) ?? []),
      ...((p.OKActions as unknown[]) ?? []),
      ...((p.InsufficientDataActions as unknown[]) ?? []),
    ];
    if (actions.length === 0) {
      links.push({ alarm: alarmId, step: 'actions', refused: 'the alarm has no action' });
      continue;
    }
    // CloudFormation names the alarm; any name of this account and region matches the same statements.
    const context = {
      'aws:SourceAccount': pseudo.account,
      'aws:SourceArn': `arn:aws:cloudwatch:${pseudo.region}:${pseudo.account}:alarm:${alarmId}-GENERATED`,
      'aws:SecureTransport': 'true',
    };
    for (const action of actions) {
      const target = resolveValue(action, pseudo);
      const topicId = typeof target === 'string' && target.startsWith('ref:') ? target.slice(4) : undefined;
      const topic = topicId ? resources[topicId] : undefined;
      if (!topicId || topic?.Type !== 'AWS::SNS::Topic') {
        links.push({
          alarm: alarmId,
          step: `action ${JSON.stringify(action)}`,
          refused: 'not an SNS topic of this template',
        });
        continue;
      }
      const policies = Object.values(resources).filter(
        (r) =>
          r.Type === 'AWS::SNS::TopicPolicy' &&
          ((r.Properties?.Topics as unknown[]) ?? []).some((t) => resolveValue(t, pseudo) === `ref:${topicId}`),
      );
      // No topic policy at all means SNS's default policy (owner account only), which does not allow CloudWatch either.
      const topicPolicy =
        policies.length === 1 ? (resolveValue(policies[0]!.Properties!.PolicyDocument, pseudo) as never) : undefined;
      links.push({
        alarm: alarmId,
        step: `sns:Publish on ${topicId}`,
        refused:
          policies.length > 1
            ? `${policies.length} topic policies for one topic`
            : refusal(topicPolicy, {
                service: 'cloudwatch.amazonaws.com',
                action: 'sns:Publish',
                resource: `ref:${topicId}`,
                context,
              }),
      });
      const keyRef = resolveValue(topic.Properties?.KmsMasterKeyId, pseudo);
      if (keyRef === undefined) continue; // unencrypted topic: no key to use
      const keyId = typeof keyRef === 'string' && keyRef.startsWith('arn-of:') ? keyRef.slice(7) : undefined;
      const key = keyId ? resources[keyId] : undefined;
      if (!keyId || key?.Type !== 'AWS::KMS::Key') {
        links.push({
          alarm: alarmId,
          step: `key of ${topicId}`,
          refused: `the key ${JSON.stringify(keyRef)} is not in this template: its policy cannot be checked here`,
        });
        continue;
      }
      const keyPolicy = resolveValue(key.Properties?.KeyPolicy, pseudo) as never;
      for (const kmsAction of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        links.push({
          alarm: alarmId,
          step: `${kmsAction} on ${keyId}`,
          refused: refusal(keyPolicy, {
            service: 'cloudwatch.amazonaws.com',
            action: kmsAction,
            resource: '*',
            context,
          }),
        });
      }
    }
  }
  return links;
}
