import { createRekeyApp, loadCdkJsonContext } from '../../lib/app';
import { walkAlarmDelivery } from './alarm-delivery';
import { DEPLOY_CONTEXT, PSEUDO, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

function synthesize(context: Record<string, unknown>): Template {
  const { app, stack } = createRekeyApp({
    nag: false,
    outdir: testOutdir(),
    context: { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context },
  });
  return app.synth().getStackByName(stack.stackName).template as Template;
}

const alarmsIn = (t: Template) =>
  Object.entries(t.Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .map(([id]) => id);

describe.each([
  ['existing database, hierarchical keyring', DEPLOY_CONTEXT],
  [
    'existing database, kms keyring, certificate alarm',
    {
      ...DEPLOY_CONTEXT,
      'rekey:keyring': 'kms',
      'rekey:certificateArns': 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012',
    },
  ],
  ['trial database', { 'rekey:trial': 'true' }],
])('every alarm can notify (%s)', (_name, context) => {
  let template: Template;
  beforeAll(() => {
    template = synthesize(context);
  });

  test('alarm → action → topic → topic policy → KMS key policy: no link refused, every alarm walked', () => {
    const links = walkAlarmDelivery(template, PSEUDO);
    const alarms = alarmsIn(template);
    expect(alarms.length).toBeGreaterThanOrEqual(14);
    // Each alarm reached the topic policy and both key actions.
    expect(new Set(links.filter((l) => l.step.startsWith('sns:Publish')).map((l) => l.alarm))).toEqual(new Set(alarms));
    expect(links.filter((l) => l.step.startsWith('kms:')).length).toBe(2 * alarms.length);
    expect(links.filter((l) => l.refused)).toEqual([]);
  });
});

describe('the walk fails when a link would be refused', () => {
  let template: Template;
  beforeAll(() => {
    template = synthesize(DEPLOY_CONTEXT);
  });
  const copy = (): Template => JSON.parse(JSON.stringify(template)) as Template;
  const statementsOf = (t: Template, type: string, prop: string) =>
    Object.values(t.Resources)
      .filter((r) => r.Type === type)
      .flatMap((r) => (r.Properties![prop] as { Statement: Record<string, unknown>[] }).Statement);

  test('a topic policy with the TLS Deny only (SNS default replaced): every alarm refused', () => {
    const t = copy();
    for (const r of Object.values(t.Resources).filter((r) => r.Type === 'AWS::SNS::TopicPolicy')) {
      const doc = r.Properties!.PolicyDocument as { Statement: { Effect: string }[] };
      doc.Statement = doc.Statement.filter((s) => s.Effect === 'Deny');
    }
    const refused = walkAlarmDelivery(t, PSEUDO).filter((l) => l.refused);
    expect(new Set(refused.map((l) => l.alarm))).toEqual(new Set(alarmsIn(t)));
    expect(refused[0]!.refused).toBe('no statement allows it');
  });

  test('an Allow scoped to another account, or a key policy without CloudWatch: refused', () => {
    const t = copy();
    const allow = statementsOf(t, 'AWS::SNS::TopicPolicy', 'PolicyDocument').find((s) => s.Effect === 'Allow')!;
    (allow.Condition as Record<string, Record<string, unknown>>).StringEquals!['aws:SourceAccount'] = '999999999999';
    expect(walkAlarmDelivery(t, PSEUDO).filter((l) => l.step.startsWith('sns:') && l.refused).length).toBe(
      alarmsIn(t).length,
    );

    const k = copy();
    for (const r of Object.values(k.Resources).filter((r) => r.Type === 'AWS::KMS::Key')) {
      const doc = r.Properties!.KeyPolicy as { Statement: { Principal?: unknown }[] };
      doc.Statement = doc.Statement.filter((s) => !JSON.stringify(s.Principal).includes('cloudwatch'));
    }
    expect(walkAlarmDelivery(k, PSEUDO).filter((l) => l.step.startsWith('kms:') && l.refused).length).toBe(
      2 * alarmsIn(k).length,
    );
  });

  test('an alarm without actions, or a template without alarms, does not pass', () => {
    const t = copy();
    const first = Object.values(t.Resources).find((r) => r.Type === 'AWS::CloudWatch::Alarm')!;
    delete first.Properties!.AlarmActions;
    expect(
      walkAlarmDelivery(t, PSEUDO)
        .filter((l) => l.refused)
        .map((l) => l.refused),
    ).toEqual(['the alarm has no action']);
    expect(alarmsIn({ Resources: {} })).toHaveLength(0); // the walk above asserts ≥ 14 alarms, so an empty match fails there
  });
});
