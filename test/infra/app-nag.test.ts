import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { createRekeyApp, EXAMPLE_REGISTRY, loadCdkJsonContext } from '../../lib/app';
import { nagFindings, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

const CONTEXT = { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [] };

describe('the CDK app (bin/app.ts) with cdk-nag AwsSolutions registered', () => {
  test('default app (trial database, hierarchical keyring, example registry): zero findings, zero warnings, synthesizes', () => {
    const { app, stack } = createRekeyApp({ context: CONTEXT, outdir: testOutdir() });
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
    const { app, stack } = createRekeyApp({ context: CONTEXT, outdir: testOutdir() });
    new Queue(stack, 'UnencryptedPlainQueue');
    expect(nagFindings(app)).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS3 @ Rekey/UnencryptedPlainQueue/Resource', 'AwsSolutions-SQS4 @ Rekey/UnencryptedPlainQueue/Resource']),
    );
    // Under jest CDK synthesizes in memory, where a failed validation plugin throws.
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  test('with no rekey.config.json the example registry is used; a named config that does not exist is an error', () => {
    const { stack } = createRekeyApp({ context: CONTEXT, nag: false, outdir: testOutdir() });
    const worker = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(stack.pipeline.worker.node.defaultChild as never)];
    expect(worker.Properties.Environment.Variables.REKEY_REGISTRY).toBe(JSON.stringify(EXAMPLE_REGISTRY));
    expect(() => createRekeyApp({ context: { ...CONTEXT, 'rekey:config': 'no/such/rekey.config.json' }, nag: false, outdir: testOutdir() })).toThrow(/rekey:config: .*no\/such\/rekey\.config\.json does not exist/);
  });
});
