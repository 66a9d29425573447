import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Node } from 'constructs';
import type { KeyringKind } from './environment';
import { InvalidPropsError } from './errors';
import type { EncryptedColumnRegistry } from './registry';
import { PROJECT_ROOT } from './rekey-function';
import { RekeyStack, type RekeyStackProps } from './rekey-stack';

/**
 * The registry the app uses when no rekey.config.json is found: one table, so
 * `cdk synth` runs from a fresh clone. Replace it with your own
 * (`-c rekey:config=path/to/rekey.config.json`).
 */
export const EXAMPLE_REGISTRY: EncryptedColumnRegistry = {
  tables: [{ name: 'users', idColumn: 'id', columns: ['email_encrypted'], keyIdColumn: 'email_key_id' }],
};

/**
 * CDK context keys `bin/app.ts` reads (`cdk synth -c rekey:clusterArn=...`).
 * With no cluster given, the app builds the trial database.
 */
export const CONTEXT_KEYS = {
  stackName: 'rekey:stackName',
  clusterArn: 'rekey:clusterArn',
  secretArn: 'rekey:secretArn',
  databaseName: 'rekey:databaseName',
  secretKeyArn: 'rekey:secretKeyArn',
  trialDeletionProtection: 'rekey:trialDeletionProtection',
  kmsKeyArn: 'rekey:kmsKeyArn',
  keyring: 'rekey:keyring',
  config: 'rekey:config',
  emails: 'rekey:emails',
  certificateArns: 'rekey:certificateArns',
  tenants: 'rekey:tenants',
} as const;

/** Stack props from CDK context, with the runnable defaults (trial database, example registry). */
export function stackPropsFromContext(node: Node, cwd = process.cwd()): RekeyStackProps {
  const get = (key: string): string | undefined => {
    const v: unknown = node.tryGetContext(key);
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const list = (key: string): string[] | undefined => get(key)?.split(',').map((s) => s.trim()).filter(Boolean);
  const clusterArn = get(CONTEXT_KEYS.clusterArn);
  const secretArn = get(CONTEXT_KEYS.secretArn);
  return {
    database:
      clusterArn || secretArn
        ? { clusterArn: clusterArn ?? '', secretArn: secretArn ?? '', databaseName: get(CONTEXT_KEYS.databaseName), secretKeyArn: get(CONTEXT_KEYS.secretKeyArn) }
        : undefined,
    trialDatabase: clusterArn || secretArn ? undefined : { deletionProtection: get(CONTEXT_KEYS.trialDeletionProtection) !== 'false' },
    kmsKeyArn: get(CONTEXT_KEYS.kmsKeyArn),
    keyring: get(CONTEXT_KEYS.keyring) as KeyringKind | undefined,
    registry: loadRegistry(get(CONTEXT_KEYS.config), cwd),
    notificationEmails: list(CONTEXT_KEYS.emails),
    certificateArns: list(CONTEXT_KEYS.certificateArns),
    tenants: list(CONTEXT_KEYS.tenants)?.map((tenant) => ({ tenant })),
  };
}

/** The registry at `configPath`, else ./rekey.config.json if present, else {@link EXAMPLE_REGISTRY}. */
export function loadRegistry(configPath: string | undefined, cwd: string): EncryptedColumnRegistry {
  const file = configPath ? path.resolve(cwd, configPath) : path.join(cwd, 'rekey.config.json');
  if (!fs.existsSync(file)) {
    if (configPath) throw new InvalidPropsError('rekey app', [`${CONTEXT_KEYS.config}: ${file} does not exist`]);
    return EXAMPLE_REGISTRY;
  }
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as EncryptedColumnRegistry;
  } catch (err) {
    throw new InvalidPropsError('rekey app', [`${CONTEXT_KEYS.config}: ${file} is not valid JSON (${(err as Error).message})`]);
  }
}

/**
 * The context of the project's cdk.json (feature flags included), so an app
 * built in a test or by synthesizeStateMachineDefinition() synthesizes exactly
 * what `cdk synth` does.
 */
export function loadCdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export interface RekeyAppOptions extends AppProps {
  /**
   * Register cdk-nag's AwsSolutions checks.
   * @default true
   */
  readonly nag?: boolean;
  /** Props overriding those read from context. */
  readonly stackProps?: Partial<RekeyStackProps>;
}

/**
 * The rekey CDK app: one RekeyStack from context, checked by cdk-nag
 * AwsSolutions at synthesis (every finding must be fixed or acknowledged next
 * to its resource, with a reason).
 */
export function createRekeyApp(options: RekeyAppOptions = {}): { app: App; stack: RekeyStack } {
  const { nag = true, stackProps, ...appProps } = options;
  const app = new App(appProps);
  const stackName = (app.node.tryGetContext(CONTEXT_KEYS.stackName) as string | undefined) ?? 'Rekey';
  const fromContext = stackPropsFromContext(app.node);
  const stack = new RekeyStack(app, stackName, {
    description: 'rekey: envelope encryption and zero-downtime key rotation (re-encryption pipeline, keyset rotation, schedules, alarms)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    ...fromContext,
    // A database given here replaces the context's choice, trial included.
    ...(stackProps?.database ? { trialDatabase: undefined } : {}),
    ...stackProps,
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
