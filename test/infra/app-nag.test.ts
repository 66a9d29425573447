import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { createRekeyApp, loadCdkJsonContext } from '../../lib/app';
import { DEPLOY_CONTEXT, nagFindings, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

const CONTEXT = { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [] };

describe('the CDK app (bin/app.ts) with cdk-nag AwsSolutions registered', () => {
  test('existing database from context (hierarchical keyring): zero findings, zero warnings, synthesizes', () => {
    const { app, stack } = createRekeyApp({ context: { ...CONTEXT, ...DEPLOY_CONTEXT }, outdir: testOutdir() });
    expect(stack.trialDatabase).toBeUndefined();
    expect(stack.keysetRotation).toBeDefined();
    expect(nagFindings(app)).toEqual([]);
    const assembly = app.synth();
    expect(assembly.getStackByName(stack.stackName).template.Resources).toBeDefined();
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  test('trial (rekey:trial=true, example registry): zero findings, zero warnings, synthesizes', () => {
    const { app, stack } = createRekeyApp({ context: { ...CONTEXT, 'rekey:trial': 'true' }, outdir: testOutdir() });
    expect(stack.trialDatabase).toBeDefined();
    expect(stack.keysetRotation).toBeDefined();
    expect(nagFindings(app)).toEqual([]);
    const assembly = app.synth();
    expect(assembly.getStackByName(stack.stackName).template.Resources).toBeDefined();
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  test('app configured from context: existing cluster, kms keyring, e-mails, certificates, tenants: zero findings', () => {
    const { app, stack } = createRekeyApp({
      outdir: testOutdir(),
      context: {
        ...CONTEXT,
        'rekey:stackName': 'RekeyProd',
        'rekey:clusterArn': 'arn:aws:rds:eu-west-1:111122223333:cluster:app-db',
        'rekey:secretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-db-AbCdEf',
        'rekey:databaseName': 'app',
        'rekey:config': DEPLOY_CONTEXT['rekey:config'],
        'rekey:keyring': 'kms',
        'rekey:emails': 'ops@example.com, security@example.com',
        'rekey:tenants': 'acme,globex',
        'rekey:certificateArns': 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012',
      },
    });
    expect(stack.monitoring.certificateAlarms).toHaveLength(1);
    expect(stack.stackName).toBe('RekeyProd');
    expect(stack.trialDatabase).toBeUndefined();
    expect(stack.keysetRotation).toBeUndefined();
    expect(Object.keys(stack.schedules.tenants)).toEqual(['acme', 'globex']);
    expect(nagFindings(app)).toEqual([]);
  });

  test('the registered checks do fail synthesis on an unacknowledged finding', () => {
    const { app, stack } = createRekeyApp({ context: { ...CONTEXT, ...DEPLOY_CONTEXT }, outdir: testOutdir() });
    new Queue(stack, 'UnencryptedPlainQueue');
    expect(nagFindings(app)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-SQS3 @ Rekey/UnencryptedPlainQueue/Resource',
        'AwsSolutions-SQS4 @ Rekey/UnencryptedPlainQueue/Resource',
      ]),
    );
    // Under jest CDK synthesizes in memory, where a failed validation plugin throws.
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });
});
