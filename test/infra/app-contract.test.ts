import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { CONTEXT_KEYS, createRekeyApp, EXAMPLE_REGISTRY, loadCdkJsonContext } from '../../lib/app';
import { ContextError, InvalidPropsError } from '../../lib/errors';
import { PROJECT_ROOT } from '../../lib/rekey-function';
import { EXAMPLE_TABLE } from '../../functions/core/schema/example-table';
import { CONFIG_FIXTURE, DEPLOY_CONTEXT, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

const BASE = { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [] };
const app = (context: Record<string, unknown>) =>
  createRekeyApp({ nag: false, outdir: testOutdir(), context: { ...BASE, ...context } });

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

// The app resolves rekey.config.json and cdk-outputs.json against the working directory: run in an empty one.
const cwd = process.cwd();
let scratch: string;
beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-contract-'));
  process.chdir(scratch);
});
afterEach(() => {
  process.chdir(cwd);
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the deploy contract (bin/app.ts)', () => {
  test('no context: one ContextError naming every required key, with an example command', () => {
    const err = errorOf(() => app({}));
    expect(err).toBeInstanceOf(ContextError);
    expect((err as ContextError).problems.map((p) => p.split(':').slice(0, 2).join(':'))).toEqual([
      CONTEXT_KEYS.clusterArn,
      CONTEXT_KEYS.secretArn,
      CONTEXT_KEYS.config,
    ]);
    expect(err.message).toContain('npx cdk deploy --outputs-file cdk-outputs.json');
    expect(err.message).toContain(`-c ${CONTEXT_KEYS.trial}=true`);
    expect(err.message).toContain('docs/deploy.md');
  });

  test('a partial secret ARN (no 6-character suffix) is refused at synth', () => {
    const err = errorOf(() =>
      app({
        ...DEPLOY_CONTEXT,
        'rekey:secretArn': 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-db-credentials',
      }),
    );
    expect(err).toBeInstanceOf(InvalidPropsError);
    expect(err.message).toMatch(/database\.secretArn: must be a Secrets Manager secret ARN/);
  });

  test('malformed flags and numbers, and a trial next to a cluster, are listed together', () => {
    const err = errorOf(() =>
      app({
        ...DEPLOY_CONTEXT,
        'rekey:trial': 'true',
        'rekey:rotationWindowHours': 'four',
        'rekey:trialDeletionProtection': 'yes',
      }),
    );
    expect((err as ContextError).problems.map((p) => p.split(':').slice(0, 2).join(':'))).toEqual([
      CONTEXT_KEYS.trialDeletionProtection,
      CONTEXT_KEYS.trial,
      CONTEXT_KEYS.rotationWindowHours,
    ]);
  });

  test('outside a trial there is no example registry: the registry must be given', () => {
    const { 'rekey:config': _config, ...noConfig } = DEPLOY_CONTEXT;
    expect((errorOf(() => app(noConfig)) as ContextError).problems).toEqual([
      expect.stringMatching(/^rekey:config: required/),
    ]);
    // ./rekey.config.json in the working directory counts as given.
    fs.copyFileSync(CONFIG_FIXTURE, path.join(scratch, 'rekey.config.json'));
    const { stack } = app(noConfig);
    const worker =
      Template.fromStack(stack).toJSON().Resources[
        stack.getLogicalId(stack.pipeline.worker.node.defaultChild as never)
      ];
    expect(JSON.parse(worker.Properties.Environment.Variables.REKEY_REGISTRY)).toEqual(
      JSON.parse(fs.readFileSync(CONFIG_FIXTURE, 'utf8')),
    );
    expect(worker.Properties.Environment.Variables.REKEY_TRIAL_EXAMPLE_TABLE).toBeUndefined();
  });

  test('a trial: the example registry, and ValidateInput and Inventory create the example table', () => {
    const { stack } = app({ 'rekey:trial': 'true' });
    expect(stack.trialDatabase).toBeDefined();
    const resources = Template.fromStack(stack).toJSON().Resources;
    const env = (fn: { node: { defaultChild?: unknown } }) =>
      resources[stack.getLogicalId(fn.node.defaultChild as never)].Properties.Environment.Variables;
    expect(EXAMPLE_REGISTRY.tables[0]!.name).toBe(EXAMPLE_TABLE.name);
    for (const fn of [stack.pipeline.tasks.validateInput.function, stack.pipeline.inventory.function]) {
      expect(env(fn)).toMatchObject({
        REKEY_TRIAL_EXAMPLE_TABLE: 'true',
        REKEY_REGISTRY: JSON.stringify(EXAMPLE_REGISTRY),
      });
    }
    expect(env(stack.pipeline.worker).REKEY_TRIAL_EXAMPLE_TABLE).toBeUndefined();
    expect(
      Object.values(Template.fromStack(stack).findResources('AWS::RDS::DBCluster'))[0]!.Properties.DeletionProtection,
    ).toBe(false);
  });

  test("rotation window and interval from context reach the keyset's rotation schedule", () => {
    const { stack } = app({
      ...DEPLOY_CONTEXT,
      'rekey:rotationSchedule': 'cron(0 2 ? * SUN#1 *)',
      'rekey:rotationWindowHours': '3',
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 2 ? * SUN#1 *)', Duration: '3h' },
    });
    const every = app({ ...DEPLOY_CONTEXT, 'rekey:rotationEveryDays': '30' });
    Template.fromStack(every.stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: '4h' },
    });
  });

  test('every context key is documented in docs/deploy.md', () => {
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'deploy.md'), 'utf8');
    const missing = Object.values(CONTEXT_KEYS).filter((key) => !doc.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});

describe('the KMS key cannot change under a deployed keyset', () => {
  const IMPORTED = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
  const OTHER = 'arn:aws:kms:eu-west-1:111122223333:key/99999999-8888-7777-6666-555555555555';
  const outputs = (source: 'stack' | 'imported', keyArn: string) =>
    fs.writeFileSync(
      path.join(scratch, 'cdk-outputs.json'),
      JSON.stringify({ Rekey: { KmsKeyArn: keyArn, KmsKeySource: source, StateMachineArn: 'x' } }),
    );

  test("deployed with the stack's own key: adding rekey:kmsKeyArn is refused, naming the migration doc", () => {
    outputs('stack', IMPORTED.replace('1111', 'aaaa'));
    const err = errorOf(() => app({ ...DEPLOY_CONTEXT, 'rekey:kmsKeyArn': IMPORTED }));
    expect(err).toBeInstanceOf(InvalidPropsError);
    expect(err.message).toMatch(
      /kmsKeyArn: the deployed stack's keyset is wrapped under .*changing it to .*"Changing the KMS key" in docs\/deploy\.md/,
    );
    expect(() => app(DEPLOY_CONTEXT)).not.toThrow();
  });

  test('deployed with an imported key: another key, or none (a new key), is refused; the same key passes', () => {
    outputs('imported', IMPORTED);
    expect(errorOf(() => app({ ...DEPLOY_CONTEXT, 'rekey:kmsKeyArn': OTHER })).message).toMatch(/changing it to/);
    expect(errorOf(() => app(DEPLOY_CONTEXT)).message).toMatch(/creating a new key would leave/);
    expect(() => app({ ...DEPLOY_CONTEXT, 'rekey:kmsKeyArn': IMPORTED })).not.toThrow();
  });

  test('the outputs of another stack name do not count; a named outputs file that is missing is an error', () => {
    outputs('imported', IMPORTED);
    expect(() => app({ ...DEPLOY_CONTEXT, 'rekey:stackName': 'RekeyStaging' })).not.toThrow();
    expect(errorOf(() => app({ ...DEPLOY_CONTEXT, 'rekey:outputsFile': 'nope.json' })).message).toMatch(
      /rekey:outputsFile: .*nope\.json does not exist/,
    );
  });

  test('the stack outputs what the guard reads', () => {
    const { stack } = app(DEPLOY_CONTEXT);
    const out = Template.fromStack(stack).toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(out.KmsKeySource!.Value).toBe('stack');
    expect(out.KmsKeyArn).toBeDefined();
  });
});
