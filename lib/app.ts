import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Node } from 'constructs';
import type { KeyringKind } from './environment';
import { ContextError, InfraError } from './errors';
import type { EncryptedColumnRegistry } from './registry';
import { PROJECT_ROOT } from './rekey-function';
import { RekeyStack, type DeployedKmsKey, type RekeyStackProps } from './rekey-stack';
import { EXAMPLE_TABLE } from '../functions/core/schema/example-table';

/**
 * The trial's registry: one table, `users`, which a trial deployment creates
 * (with a few plaintext e-mail addresses) the first time a function of the
 * stack reaches the trial database, so a trial execution has work to do.
 * Never used outside a trial.
 */
export const EXAMPLE_REGISTRY: EncryptedColumnRegistry = {
  tables: [
    {
      name: EXAMPLE_TABLE.name,
      idColumn: EXAMPLE_TABLE.idColumn,
      columns: [EXAMPLE_TABLE.column],
      keyIdColumn: EXAMPLE_TABLE.keyIdColumn,
    },
  ],
};

/**
 * CDK context keys `bin/app.ts` reads (`cdk synth -c rekey:clusterArn=...`),
 * the single source of their names. docs/deploy.md documents each with its
 * default (a test checks every key is there).
 */
export const CONTEXT_KEYS = {
  stackName: 'rekey:stackName',
  clusterArn: 'rekey:clusterArn',
  secretArn: 'rekey:secretArn',
  databaseName: 'rekey:databaseName',
  secretKeyArn: 'rekey:secretKeyArn',
  config: 'rekey:config',
  legacyKeysSecretArn: 'rekey:legacyKeysSecretArn',
  legacyKeysSecretKeyArn: 'rekey:legacyKeysSecretKeyArn',
  trial: 'rekey:trial',
  trialDeletionProtection: 'rekey:trialDeletionProtection',
  kmsKeyArn: 'rekey:kmsKeyArn',
  keyring: 'rekey:keyring',
  emails: 'rekey:emails',
  certificateArns: 'rekey:certificateArns',
  tenants: 'rekey:tenants',
  rotationEveryDays: 'rekey:rotationEveryDays',
  rotationSchedule: 'rekey:rotationSchedule',
  rotationWindowHours: 'rekey:rotationWindowHours',
  outputsFile: 'rekey:outputsFile',
} as const;

/** The stack's name when `rekey:stackName` is not given. */
export const DEFAULT_STACK_NAME = 'Rekey';
/** Where `cdk deploy --outputs-file` writes the outputs the KMS-key guard reads (docs/deploy.md). */
export const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';

/** The command shown when the deploy contract is not met. */
const EXAMPLE_COMMAND =
  `npx cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE} \\\n` +
  `    -c ${CONTEXT_KEYS.clusterArn}=arn:aws:rds:<region>:<account>:cluster:<name> \\\n` +
  `    -c ${CONTEXT_KEYS.secretArn}=arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf \\\n` +
  `    -c ${CONTEXT_KEYS.databaseName}=<database> -c ${CONTEXT_KEYS.config}=rekey.config.json\n` +
  `  or, for a throwaway trial cluster (billed while it exists; docs/deploy.md "Trial"):\n` +
  `  npx cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE} -c ${CONTEXT_KEYS.trial}=true`;

/**
 * Stack props from CDK context. The deploy contract: an existing database
 * (`rekey:clusterArn` + `rekey:secretArn`) and a registry (`rekey:config`,
 * or ./rekey.config.json), or `rekey:trial=true` for a trial cluster with
 * the example table. Anything missing or malformed is reported in one
 * ContextError listing every problem and an example command. Props in
 * `given` (a test, synthesizeStateMachineDefinition) stand in for context.
 */
export function stackPropsFromContext(
  node: Node,
  cwd = process.cwd(),
  given: Partial<RekeyStackProps> = {},
): RekeyStackProps {
  const get = (key: string): string | undefined => {
    const v: unknown = node.tryGetContext(key);
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const list = (key: string): string[] | undefined =>
    get(key)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const problems: string[] = [];
  const flag = (key: string): boolean | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (v === 'true' || v === 'false') return v === 'true';
    problems.push(`${key}: must be true or false, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const wholeNumber = (key: string): number | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (/^\d+$/.test(v)) return Number(v);
    problems.push(`${key}: must be a whole number, got ${JSON.stringify(v)}`);
    return undefined;
  };

  const clusterArn = get(CONTEXT_KEYS.clusterArn);
  const secretArn = get(CONTEXT_KEYS.secretArn);
  const trial = flag(CONTEXT_KEYS.trial) === true;
  const trialDeletionProtection = flag(CONTEXT_KEYS.trialDeletionProtection);
  const databaseGiven =
    given.database !== undefined || (given.trialDatabase !== undefined && given.trialDatabase !== false);
  let database: RekeyStackProps['database'];
  let trialDatabase: RekeyStackProps['trialDatabase'];
  if (!databaseGiven) {
    if (trial && (clusterArn || secretArn)) {
      problems.push(
        `${CONTEXT_KEYS.trial}: a trial creates its own cluster; remove ${CONTEXT_KEYS.clusterArn} / ${CONTEXT_KEYS.secretArn}, or ${CONTEXT_KEYS.trial}`,
      );
    } else if (trial) {
      trialDatabase = trialDeletionProtection === undefined ? true : { deletionProtection: trialDeletionProtection };
    } else {
      if (!clusterArn)
        problems.push(
          `${CONTEXT_KEYS.clusterArn}: required: the Aurora PostgreSQL cluster (Data API enabled) holding the encrypted columns`,
        );
      if (!secretArn)
        problems.push(
          `${CONTEXT_KEYS.secretArn}: required: the complete ARN (with its 6-character suffix) of the secret the Data API signs in with`,
        );
      if (clusterArn && secretArn) {
        database = {
          clusterArn,
          secretArn,
          databaseName: get(CONTEXT_KEYS.databaseName),
          secretKeyArn: get(CONTEXT_KEYS.secretKeyArn),
        };
      }
    }
  }
  if (trialDeletionProtection !== undefined && !trial)
    problems.push(`${CONTEXT_KEYS.trialDeletionProtection}: applies only with ${CONTEXT_KEYS.trial}=true`);

  let registry = given.registry;
  if (!registry) {
    const configPath = get(CONTEXT_KEYS.config);
    if (trial && !configPath) registry = EXAMPLE_REGISTRY;
    else {
      const loaded = loadRegistry(configPath, cwd);
      if (typeof loaded === 'string') problems.push(loaded);
      else registry = loaded;
    }
  }

  const rotationEveryDays = wholeNumber(CONTEXT_KEYS.rotationEveryDays);
  const rotationWindowHours = wholeNumber(CONTEXT_KEYS.rotationWindowHours);
  const stackName = get(CONTEXT_KEYS.stackName) ?? DEFAULT_STACK_NAME;
  const deployedKmsKey = readDeployedKmsKey(get(CONTEXT_KEYS.outputsFile), cwd, stackName, problems);

  if (problems.length > 0) {
    throw new ContextError(
      problems,
      `Example:\n  ${EXAMPLE_COMMAND}\nEvery context key and its default: docs/deploy.md`,
    );
  }
  return {
    database,
    trialDatabase,
    kmsKeyArn: get(CONTEXT_KEYS.kmsKeyArn),
    legacyKeysSecretArn: get(CONTEXT_KEYS.legacyKeysSecretArn),
    legacyKeysSecretKeyArn: get(CONTEXT_KEYS.legacyKeysSecretKeyArn),
    keyring: get(CONTEXT_KEYS.keyring) as KeyringKind | undefined,
    registry: registry!,
    notificationEmails: list(CONTEXT_KEYS.emails),
    certificateArns: list(CONTEXT_KEYS.certificateArns),
    tenants: list(CONTEXT_KEYS.tenants)?.map((tenant) => ({ tenant })),
    rotationEvery: rotationEveryDays === undefined ? undefined : Duration.days(rotationEveryDays),
    rotationSchedule: get(CONTEXT_KEYS.rotationSchedule),
    rotationWindow: rotationWindowHours === undefined ? undefined : Duration.hours(rotationWindowHours),
    deployedKmsKey,
  };
}

/**
 * The registry at `configPath`, else ./rekey.config.json; a problem (string) when neither exists
 * or the file is not JSON. There is no fallback registry outside a trial.
 */
export function loadRegistry(configPath: string | undefined, cwd: string): EncryptedColumnRegistry | string {
  const file = configPath ? path.resolve(cwd, configPath) : path.join(cwd, 'rekey.config.json');
  if (!fs.existsSync(file)) {
    return configPath
      ? `${CONTEXT_KEYS.config}: ${file} does not exist`
      : `${CONTEXT_KEYS.config}: required: the encrypted-column registry (rekey.config.json; none in ${cwd})`;
  }
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as EncryptedColumnRegistry;
  } catch (err) {
    return `${CONTEXT_KEYS.config}: ${file} is not valid JSON (${(err as Error).message})`;
  }
}

/**
 * The KMS key the deployed stack uses, from the outputs file `cdk deploy --outputs-file` wrote
 * (`rekey:outputsFile`, default ./cdk-outputs.json): undefined when there is no such file or it
 * holds no output of this stack (nothing deployed from here yet).
 */
export function readDeployedKmsKey(
  outputsFile: string | undefined,
  cwd: string,
  stackName: string,
  problems: string[],
): DeployedKmsKey | undefined {
  const file = path.resolve(cwd, outputsFile ?? DEFAULT_OUTPUTS_FILE);
  if (!fs.existsSync(file)) {
    if (outputsFile) problems.push(`${CONTEXT_KEYS.outputsFile}: ${file} does not exist`);
    return undefined;
  }
  let outputs: Record<string, Record<string, string> | undefined>;
  try {
    outputs = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof outputs;
  } catch (err) {
    problems.push(`${CONTEXT_KEYS.outputsFile}: ${file} is not valid JSON (${(err as Error).message})`);
    return undefined;
  }
  const mine = outputs[stackName];
  if (!mine?.KmsKeyArn) return undefined;
  return { keyArn: mine.KmsKeyArn, createdByStack: mine.KmsKeySource !== 'imported' };
}

/**
 * The context of the project's cdk.json (feature flags included), so an app
 * built in a test or by synthesizeStateMachineDefinition() synthesizes exactly
 * what `cdk synth` does.
 */
export function loadCdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
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
  const stackName = (app.node.tryGetContext(CONTEXT_KEYS.stackName) as string | undefined) ?? DEFAULT_STACK_NAME;
  const fromContext = stackPropsFromContext(app.node, process.cwd(), stackProps);
  const stack = new RekeyStack(app, stackName, {
    description:
      'rekey: envelope encryption and zero-downtime key rotation (re-encryption pipeline, keyset rotation, schedules, alarms)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    ...fromContext,
    // A database given here replaces the context's choice, trial included.
    ...(stackProps?.database ? { trialDatabase: undefined } : {}),
    ...stackProps,
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/**
 * bin/app.ts: the app, or — when the context or props are wrong — their
 * message alone on stderr (no stack trace: the problems are the user's to
 * fix, not the code's) and exit code 1.
 */
export function runRekeyApp(): void {
  try {
    createRekeyApp();
  } catch (err) {
    if (!(err instanceof InfraError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
