import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRekeyApp, loadCdkJsonContext } from '../../lib/app';
import { PROJECT_ROOT } from '../../lib/rekey-function';
import { DEPLOY_CONTEXT, SYNTH_TIMEOUT_MS, testOutdir } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string };

/** Synthesizes the app to a template file, as `cdk synth` writes it. */
function synthesize(context: Record<string, unknown>): { file: string; resources: Record<string, Resource> } {
  const { app, stack } = createRekeyApp({
    nag: false,
    outdir: testOutdir(),
    context: { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context },
  });
  const artifact = app.synth().getStackByName(stack.stackName);
  return {
    file: artifact.templateFullPath,
    resources: (artifact.template as { Resources: Record<string, Resource> }).Resources,
  };
}

const VARIANTS = [
  ['existing database, hierarchical keyring', DEPLOY_CONTEXT],
  ['existing database, kms keyring, tenants', { ...DEPLOY_CONTEXT, 'rekey:keyring': 'kms', 'rekey:tenants': 'acme' }],
  ['trial database', { 'rekey:trial': 'true' }],
] as const;

/**
 * cfn-lint findings the template may keep, each with its reason. Anything else fails.
 * W3005: CDK makes each Lambda function DependsOn its role (and its role's default policy, which
 * has to exist before the function can run), and the keyset's rotation schedule DependsOn its
 * function and the function's invoke permission (Secrets Manager invokes at once); the function
 * and role are also referenced by GetAtt, which cfn-lint reports as a redundant DependsOn. Harmless:
 * the policy/permission dependencies in the same DependsOn lists are the ones that matter.
 */
const ACCEPTED_WARNINGS: Readonly<Record<string, string>> = {
  W3005: 'redundant DependsOn next to a GetAtt (CDK function → role; rotation schedule → function + invoke permission)',
};

function cfnLint(
  file: string,
): { Rule: { Id: string }; Level: string; Message: string; Location: { Path: unknown[] } }[] {
  let out: string;
  try {
    out = execFileSync('cfn-lint', ['--format', 'json', file], { encoding: 'utf8' });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; status?: number };
    if (e.code === 'ENOENT') {
      throw new Error(
        `NOT RUN: cfn-lint is not installed (pip install cfn-lint). The synthesized template was not linted${process.env.CI === 'true' ? ' and CI requires it' : ''}.`,
      );
    }
    // cfn-lint exits non-zero when it finds anything; its JSON is on stdout.
    out = e.stdout ?? '';
    if (!out.trim().startsWith('[')) throw err;
  }
  return JSON.parse(out) as never;
}

describe.each(VARIANTS)('the synthesized template (%s)', (_name, context) => {
  let synth: ReturnType<typeof synthesize>;
  beforeAll(() => {
    synth = synthesize(context);
  });

  test('cfn-lint: zero errors; every warning is one of the accepted ones', () => {
    const findings = cfnLint(synth.file);
    const errors = findings.filter((f) => f.Level === 'Error');
    expect(errors.map((f) => `${f.Rule.Id} ${f.Message}`)).toEqual([]);
    const unexpected = findings.filter((f) => f.Level !== 'Error' && !(f.Rule.Id in ACCEPTED_WARNINGS));
    expect(unexpected.map((f) => `${f.Rule.Id} ${f.Message} at ${f.Location.Path.join('/')}`)).toEqual([]);
  });

  test('no physical name that outlives the stack and collides on the next deploy', () => {
    const NAME_PROPS = [
      'Name',
      'GroupName',
      'LogGroupName',
      'QueueName',
      'TopicName',
      'FunctionName',
      'RoleName',
      'StateMachineName',
      'AlarmName',
      'DashboardName',
      'DBClusterIdentifier',
      'SecretName',
    ];
    const problems: string[] = [];
    for (const [id, r] of Object.entries(synth.resources)) {
      for (const prop of NAME_PROPS) {
        const value = r.Properties?.[prop];
        if (value === undefined) continue;
        // A name that references another resource of this stack (an ESM's FunctionName, a schedule's GroupName,
        // a flow log's LogGroupName) names that resource, not a new one.
        const json = JSON.stringify(value);
        if (
          Object.keys(synth.resources).some(
            (other) => json.includes(`{"Ref":"${other}"}`) || json.includes(`"Fn::GetAtt":["${other}"`),
          )
        )
          continue;
        // A fixed name is only safe when it holds the stack id (unique per stack creation).
        if (!JSON.stringify(value).includes('AWS::StackId'))
          problems.push(`${id} (${r.Type}) ${prop} = ${JSON.stringify(value)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test('what is retained on delete is what docs/deploy.md lists as retained', () => {
    const retained = [
      ...new Set(
        Object.values(synth.resources)
          .filter((r) => r.DeletionPolicy === 'Retain')
          .map((r) => r.Type),
      ),
    ].sort();
    const doc = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'deploy.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## What `cdk destroy` keeps'));
    expect(section.length).toBeGreaterThan(100);
    expect(retained.filter((type) => !section.includes(`\`${type}\``))).toEqual([]);
  });
});
