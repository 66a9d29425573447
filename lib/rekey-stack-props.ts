import type { Duration, Stack, StackProps } from 'aws-cdk-lib';
import type { KeyringKind } from '../functions/core/keyring-kinds';
import { ARN_PATTERNS, PropsProblems } from './errors';
import { checkKeysetRotationProps } from './keyset-rotation';
import { checkLegacyKeysProps, type LegacyKeysSecret } from './legacy-keys-access';
import { checkPipelineProps, type ReencryptionPipelineTuning } from './pipeline-settings';
import { checkRegistry, type EncryptedColumnRegistry } from './registry';
import { checkMonitoringProps, type AlarmThresholds } from './monitoring-props';
import { checkRotationSchedulesProps, type TenantSchedule } from './rotation-schedules';
import { checkTrialDatabaseProps, type TrialDatabaseOptions } from './trial-database';

/** The keyrings a stack may deploy ("raw" reads KEKs from the environment: refused on AWS). */
export type AwsKeyringKind = Exclude<KeyringKind, 'raw'>;

/** An existing Aurora PostgreSQL cluster with the RDS Data API enabled. */
export interface ExistingDatabase {
  /** `arn:aws:rds:<region>:<account>:cluster:<name>`. */
  readonly clusterArn: string;
  /** The Secrets Manager secret with the credentials the Data API uses (full ARN). */
  readonly secretArn: string;
  /**
   * Database name.
   * @default 'postgres'
   */
  readonly databaseName?: string;
  /**
   * ARN of the customer managed KMS key encrypting that secret, if any.
   * @default - the secret uses the AWS managed key
   */
  readonly secretKeyArn?: string;
}

/** The KMS key a deployed stack uses (its `KmsKeyArn` and `KmsKeySource` outputs). */
export interface DeployedKmsKey {
  /** The deployed stack's KmsKeyArn output. */
  readonly keyArn: string;
  /** The deployed stack created the key itself (KmsKeySource output `stack`), rather than importing `kmsKeyArn`. */
  readonly createdByStack: boolean;
}

export interface RekeyStackProps extends StackProps {
  /**
   * The database holding the encrypted columns and rekey's own tables. Give this, or `trialDatabase`.
   * @default - none: `trialDatabase` must be set
   */
  readonly database?: ExistingDatabase;
  /**
   * Create a small Aurora Serverless v2 PostgreSQL cluster with the Data API, for a trial.
   * `true` for the defaults, or options. Exclusive with `database`.
   * @default false
   */
  readonly trialDatabase?: boolean | TrialDatabaseOptions;
  /**
   * Use this existing KMS key (its policy must let CloudWatch Logs and, for the alarm topic,
   * CloudWatch use it: see docs/alarms.md).
   * @default - a new key: automatic rotation on, retained on stack deletion
   */
  readonly kmsKeyArn?: string;
  /** The encrypted-column registry: the content of rekey.config.json. */
  readonly registry: EncryptedColumnRegistry;
  /**
   * Complete ARN of a Secrets Manager secret holding the keys of the registry's Fernet tables: its
   * SecretString is JSON with the application's own variables, `{"ENCRYPTION_KEY": "...",
   * "ENCRYPTION_KEY_FALLBACK": "..."}` (docs/deploy.md). The functions that work on Fernet values
   * read it once per container. Required when a table has format "fernet".
   * @default none
   */
  readonly legacyKeysSecretArn?: string;
  /**
   * ARN of the customer managed KMS key encrypting the legacy keys secret, if any.
   * @default - the secret uses the AWS managed key
   */
  readonly legacyKeysSecretKeyArn?: string;
  /**
   * Keyring: 'hierarchical' (KEKs in a Secrets Manager keyset wrapped by the KMS key; no KMS call
   * per row) or 'kms' (a data key per value from KMS; a CloudTrail record per decrypt).
   * 'raw' is refused: it reads KEKs from environment variables, which on Lambda would put key
   * material in the function configuration and the CloudFormation template.
   * @default 'hierarchical'
   */
  readonly keyring?: KeyringKind;
  /**
   * Automatic rotation interval, whole days: the keyset secret's rotation schedule
   * (hierarchical, 1–1000 days), or the KMS key's own rotation period (kms, 90–1000 days;
   * KMS keeps every earlier key material, so no row needs rewriting — a scheduled `rewrap`
   * to the same key would move nothing). With `kms` and an imported `kmsKeyArn`, the
   * key's owner sets its rotation.
   * @default 90 days
   */
  readonly rotationEvery?: Duration;
  /**
   * Secrets Manager schedule expression starting the keyset's rotation window (hierarchical keyring):
   * `rate(N days)` or `cron(min hour day month weekday year)` in UTC.
   * @default `rate(<rotationEvery> days)`, whose window opens at 00:00 UTC
   */
  readonly rotationSchedule?: string;
  /**
   * Length of the keyset's rotation window, whole hours (1–24).
   * @default 4 hours
   */
  readonly rotationWindow?: Duration;
  /**
   * The KMS key of the already deployed stack, if any (the app reads it from cdk-outputs.json).
   * A different key is refused: the keyset's KEKs are wrapped under the deployed key.
   * @default - no deployed stack known: any key
   */
  readonly deployedKmsKey?: DeployedKmsKey;
  /**
   * Daily inventory time (UTC), or `false` for none.
   * @default 03:15 UTC
   */
  readonly inventory?: { readonly minute: string; readonly hour: string } | false;
  /**
   * Per-tenant rotation schedules.
   * Each execution moves that tenant's rows (tables with a `tenantColumn`) to the tenant's
   * own active key; ValidateInput refuses it while the tenant has none.
   * @default - none
   */
  readonly tenants?: readonly TenantSchedule[];
  /** @default the runbooks' thresholds (docs/alarms.md) */
  readonly thresholds?: AlarmThresholds;
  /**
   * E-mail addresses notified of every alarm.
   * @default - none (subscribe to the topic later)
   */
  readonly notificationEmails?: readonly string[];
  /**
   * ACM certificate ARNs (this region) to alarm on before expiry.
   * @default - none
   */
  readonly certificateArns?: readonly string[];
  /**
   * Pipeline tuning: batch size, concurrency, receive count, timeouts.
   * @default the values in lib/defaults.ts
   */
  readonly pipeline?: ReencryptionPipelineTuning;
}

/** The Fernet keys secret the pipeline reads, from the stack's two props. */
export function legacyKeysSecret(props: RekeyStackProps): LegacyKeysSecret | undefined {
  if (props.legacyKeysSecretArn === undefined) return undefined;
  return {
    secretArn: props.legacyKeysSecretArn,
    ...(props.legacyKeysSecretKeyArn ? { secretKeyArn: props.legacyKeysSecretKeyArn } : {}),
  };
}

/** Checks the stack's own props and every part's, and throws one error listing all problems. */
export function checkStackProps(stack: Stack, props: RekeyStackProps): AwsKeyringKind {
  const problems = PropsProblems.for(`RekeyStack ${stack.node.path}`);
  const keyring = props.keyring ?? 'hierarchical';
  if (keyring === 'raw') {
    problems.add(
      'keyring',
      '"raw" is refused on AWS: it reads KEKs from environment variables, which on Lambda would put key material in the function configuration and the CloudFormation template. Use "hierarchical" (KEKs in a KMS-wrapped Secrets Manager keyset) or "kms"; keep "raw" for local runs and self-hosting',
    );
  } else if (keyring !== 'hierarchical' && keyring !== 'kms') {
    problems.add('keyring', `must be "hierarchical" or "kms", got ${JSON.stringify(keyring)}`);
  }

  const trial = props.trialDatabase !== undefined && props.trialDatabase !== false;
  if (props.database && trial) problems.add('database', 'give either database or trialDatabase, not both');
  if (!props.database && !trial)
    problems.add('database', 'required: an existing Aurora cluster (clusterArn, secretArn), or trialDatabase: true');
  if (props.database) {
    const db = problems.scoped('database');
    db.pattern(
      'clusterArn',
      props.database.clusterArn,
      ARN_PATTERNS.auroraCluster,
      'an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)',
    );
    db.pattern(
      'secretArn',
      props.database.secretArn,
      ARN_PATTERNS.secret,
      'a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
    );
    db.pattern(
      'databaseName',
      props.database.databaseName,
      /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/,
      'a PostgreSQL database name',
    );
    db.pattern(
      'secretKeyArn',
      props.database.secretKeyArn,
      ARN_PATTERNS.kmsKey,
      'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
    );
  }
  if (trial && typeof props.trialDatabase === 'object')
    checkTrialDatabaseProps(problems.scoped('trialDatabase'), props.trialDatabase);
  problems.pattern(
    'kmsKeyArn',
    props.kmsKeyArn,
    ARN_PATTERNS.kmsKey,
    'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
  );
  const deployed = props.deployedKmsKey;
  if (deployed && keyring === 'hierarchical') {
    const unchanged = props.kmsKeyArn ? props.kmsKeyArn === deployed.keyArn : deployed.createdByStack;
    if (!unchanged) {
      problems.add(
        'kmsKeyArn',
        `the deployed stack's keyset is wrapped under ${deployed.keyArn} (${deployed.createdByStack ? 'created by the stack' : 'imported'}); ` +
          `${props.kmsKeyArn ? `changing it to ${props.kmsKeyArn}` : 'creating a new key'} would leave the keyset's KEKs unreadable to the rotation hook. ` +
          `Keep ${deployed.createdByStack ? 'no rekey:kmsKeyArn' : `rekey:kmsKeyArn=${deployed.keyArn}`}, or follow "Changing the KMS key" in docs/deploy.md`,
      );
    }
  }

  checkRegistry(problems, 'registry', props.registry);
  if (props.legacyKeysSecretKeyArn !== undefined && props.legacyKeysSecretArn === undefined) {
    problems.add('legacyKeysSecretKeyArn', 'applies only with legacyKeysSecretArn');
  }
  checkLegacyKeysProps(problems, props.registry, legacyKeysSecret(props), {
    secretArn: 'legacyKeysSecretArn',
    secretKeyArn: 'legacyKeysSecretKeyArn',
  });
  checkPipelineProps(problems.scoped('pipeline'), props.pipeline ?? {});
  // The keyset secret's Secrets Manager schedule (1–1000 days) is the narrower of the two consumers.
  if (keyring === 'kms' && !props.kmsKeyArn)
    problems.wholeDays('rotationEvery', props.rotationEvery, 90, 1000); // KMS's rotation period range, within Secrets Manager's
  else {
    checkKeysetRotationProps(
      problems,
      { rotateEvery: props.rotationEvery, schedule: props.rotationSchedule, window: props.rotationWindow },
      { rotateEvery: 'rotationEvery', schedule: 'rotationSchedule', window: 'rotationWindow' },
    );
  }
  if (keyring === 'kms' && (props.rotationSchedule !== undefined || props.rotationWindow !== undefined)) {
    problems.add(
      'rotationSchedule',
      "applies to the hierarchical keyring only (the kms keyring rotates with the KMS key's rotationPeriod: use rotationEvery)",
    );
  }
  checkRotationSchedulesProps(problems, {
    automaticRotation: false,
    inventory: props.inventory,
    tenants: props.tenants,
  });
  checkMonitoringProps(problems, stack, {
    notificationEmails: props.notificationEmails,
    certificateArns: props.certificateArns,
    thresholds: props.thresholds,
  });
  problems.throwIfAny();
  return keyring === 'kms' ? 'kms' : 'hierarchical';
}
