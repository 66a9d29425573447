import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { loadCdkJsonContext } from '../../lib/app';
import { InvalidPropsError } from '../../lib/errors';
import type { ReencryptionPipelineProps } from '../../lib/reencryption-pipeline';
import type { DataApiDatabase } from '../../lib/database';
import type { EncryptedColumnRegistry } from '../../lib/registry';

/** Synthesis in these tests takes seconds, not milliseconds. */
export const SYNTH_TIMEOUT_MS = 120_000;

export const ENV = { account: '111122223333', region: 'eu-west-1' } as const;

export const DATABASE: DataApiDatabase = {
  clusterArn: 'arn:aws:rds:eu-west-1:111122223333:cluster:app-db',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-db-credentials-AbCdEf',
  databaseName: 'app',
};

export const REGISTRY: EncryptedColumnRegistry = {
  tables: [{ name: 'users', idColumn: 'id', columns: ['email_encrypted'] }],
};

// Every app of a test file synthesizes under one temp directory, removed after the file's tests
// (CDK's own default is a fresh temp directory per synthesis, never removed).
const outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-infra-'));
afterAll(() => fs.rmSync(outRoot, { recursive: true, force: true }));

/** A fresh output directory for one app, removed with the others after the test file. */
export function testOutdir(): string {
  return fs.mkdtempSync(path.join(outRoot, 'app-'));
}

/**
 * An app with the project's cdk.json context (feature flags) and bundling
 * skipped: constructs are asserted on their template, and one test
 * (bundling.test.ts) bundles for real.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({
    outdir: testOutdir(),
    context: { ...loadCdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context },
  });
}

/** A stack in a fixed account and region, with a stack KMS key. */
export function testStack(app = testApp()): { stack: Stack; key: Key } {
  const stack = new Stack(app, 'Test', { env: ENV });
  const key = new Key(stack, 'Key', { enableKeyRotation: true });
  return { stack, key };
}

/** A pipeline's props in the test stack: the stack key, the test database and registry, the kms keyring; `overrides` sets the rest. */
export function pipelineProps(key: Key, overrides: Partial<ReencryptionPipelineProps> = {}): ReencryptionPipelineProps {
  return { key, database: DATABASE, keyring: { kind: 'kms' }, registry: REGISTRY, ...overrides };
}

/** The problems of the InvalidPropsError that `build` throws; anything else (or nothing) fails the test. */
export function invalidPropsProblems(build: () => unknown): string[] {
  try {
    build();
  } catch (err) {
    if (err instanceof InvalidPropsError) return [...err.problems];
    throw err;
  }
  throw new Error('expected an InvalidPropsError');
}

/** The cdk-nag AwsSolutions findings left after acknowledgments, as `rule @ construct path`. */
export function nagFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath ?? r.resourceLogicalId}`),
  );
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
}

/** Every Allow statement of every identity policy (IAM::Policy, IAM::ManagedPolicy, and roles' inline policies). */
export function identityAllowStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  for (const resource of Object.values(resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      statements.push(...((p.PolicyDocument as { Statement: Statement[] }).Statement ?? []));
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (p.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []) {
        statements.push(...policy.PolicyDocument.Statement);
      }
    }
  }
  return statements.filter((s) => s.Effect === 'Allow');
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** A statement's resources as a list (policy minimization merges statements into resource arrays). */
export function resourcesIn(statement: Statement): unknown[] {
  const r = statement.Resource;
  return r === undefined ? [] : Array.isArray(r) ? r : [r];
}

/** KMS or Secrets Manager actions granted with a wildcard (`kms:*`, `kms:GenerateDataKey*`, `secretsmanager:*`, `*`). */
export function wildcardKmsOrSecretsActions(template: Template): string[] {
  return identityAllowStatements(template)
    .flatMap(actionsOf)
    .filter((a) => a === '*' || (/^(kms|secretsmanager):/i.test(a) && a.includes('*')));
}

/** The resources of one type, by logical id. */
export function resourcesOf(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }> {
  return template.findResources(type) as never;
}

/** The registry file the app-level tests deploy with (`rekey:config`). */
export const CONFIG_FIXTURE = path.join(__dirname, 'fixtures', 'rekey.config.json');

/** Context meeting the app's deploy contract: an existing cluster, its complete secret ARN, a registry. */
export const DEPLOY_CONTEXT = {
  'rekey:clusterArn': DATABASE.clusterArn,
  'rekey:secretArn': DATABASE.secretArn,
  'rekey:databaseName': DATABASE.databaseName,
  'rekey:config': CONFIG_FIXTURE,
  'rekey:emails': 'ops@example.com',
} as const;

/** Pseudo parameters the app-level tests resolve templates with (createRekeyApp leaves account and region to the environment). */
export const PSEUDO = { account: '111122223333', region: 'eu-west-1' } as const;
