import { RemovalPolicy, Stack, type Duration } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  CfnResourcePolicy,
  CfnRotationSchedule,
  CfnSecret,
  Secret,
  type ISecret,
} from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { databaseEnvironment, databaseStatements, type DataApiDatabase } from './database';
import { FUNCTION_TIMEOUTS, SCHEDULE_DEFAULTS } from './defaults';
import { ENV } from './environment';
import { ConstructUsageError, PropsProblems } from './errors';
import { kmsStatement, secretStatement } from './iam';
import { RekeyFunction } from './rekey-function';

/**
 * What the keyset secret holds until its first rotation: not a keyset yet (a
 * keyset needs a KEK wrapped by KMS, which only a KMS call can make). The
 * rotation hook's createSecret, finding this document in AWSCURRENT, writes
 * the first keyset — `kek-v1`, primary — as AWSPENDING, wrapped under the
 * KMS key of its own environment (KMS_KEY_ARN).
 *
 * A constant: CloudFormation writes SecretString as a new AWSCURRENT whenever
 * it changes, which would replace a live keyset by this document. Nothing in
 * it may depend on props (the KMS key ARN used to be in it).
 */
export const KEYSET_BOOTSTRAP_FORMAT = 'rekey-keyset-bootstrap';
export const KEYSET_BOOTSTRAP_DOCUMENT = JSON.stringify({ format: KEYSET_BOOTSTRAP_FORMAT, version: 2 });

export interface KeysetRotationProps {
  /** The KMS key that encrypts the secret and wraps every KEK. */
  readonly key: IKey;
  /** The key catalog's database (setSecret writes the pending key's catalog row). */
  readonly database: DataApiDatabase;
  /**
   * Rotation interval of the keyset secret: whole days, 1–1000 (used when `schedule` is not given).
   * @default SCHEDULE_DEFAULTS.rotationEvery (90 days)
   */
  readonly rotateEvery?: Duration;
  /**
   * Secrets Manager schedule expression of the rotation window's start: `rate(N days)` or a
   * `cron(...)` expression (UTC; e.g. `cron(0 2 ? * SUN#1 *)` for the first Sunday of each month at 02:00).
   * @default `rate(<rotateEvery> days)` (the window of a rate in days starts at 00:00 UTC)
   */
  readonly schedule?: string;
  /**
   * Length of the rotation window (whole hours, 1–24): Secrets Manager rotates at some time inside it.
   * @default SCHEDULE_DEFAULTS.rotationWindow (4 hours)
   */
  readonly window?: Duration;
  /**
   * Rotate at once whenever the rotation schedule is created or changed. Off: a changed interval
   * or window must not start a rotation at whatever hour the deployment runs. The first keyset is
   * then created by the first rotation an operator starts (`aws secretsmanager rotate-secret`,
   * docs/deploy.md) or by the first window.
   * @default false
   */
  readonly rotateImmediately?: boolean;
  /**
   * The re-encryption state machine finishSecret starts a `rewrap` execution on.
   * May also be given later with {@link KeysetRotation.startsRewrapWith}.
   * @default - must be given with startsRewrapWith() before synthesis
   */
  readonly stateMachine?: IStateMachine;
}

/**
 * The hierarchical keyring's keyset: one Secrets Manager secret, encrypted
 * with the stack key and retained on stack deletion, TLS-only; its rotation
 * Lambda (the four Secrets Manager steps: createSecret adds `kek-vN+1` as
 * primary, setSecret records it pending, testSecret round-trips, finishSecret
 * promotes it and starts a `rewrap` execution); and the rotation schedule.
 *
 * The rotation schedule is the L1 resource with hand-written permissions: the
 * L2 `addRotationSchedule` grants kms:ReEncrypt* / kms:GenerateDataKey* and
 * secretsmanager:GetRandomPassword on "*", which rekey does not allow.
 */
export class KeysetRotation extends Construct {
  /** The keyset secret (its full ARN). */
  readonly secret: ISecret;
  readonly secretResource: CfnSecret;
  readonly rotation: RekeyFunction;
  readonly rotationSchedule: CfnRotationSchedule;
  private stateMachine?: IStateMachine;

  constructor(scope: Construct, id: string, props: KeysetRotationProps) {
    super(scope, id);
    const problems = PropsProblems.for(`KeysetRotation ${this.node.path}`);
    const { scheduleExpression, window } = checkKeysetRotationProps(problems, props);
    problems.throwIfAny();

    // The L1 secret: the L2 adds a key-policy statement with kms:GenerateDataKey* / kms:ReEncrypt*
    // for Secrets Manager, which the key policy's account statement already covers.
    const secret = new CfnSecret(this, 'KeysetSecret', {
      description:
        'rekey keyset: every KEK version not yet destroyed, each wrapped by the stack KMS key; the primary marked',
      kmsKeyId: props.key.keyArn,
      // A bootstrap marker, not key material: the first rotation replaces it with the first keyset.
      // Constant, so that no deployment writes it over a live keyset (KEYSET_BOOTSTRAP_DOCUMENT).
      secretString: KEYSET_BOOTSTRAP_DOCUMENT,
    });
    // Losing the keyset loses every KEK, and with them every value: never deleted with the stack.
    secret.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.secretResource = secret;
    this.secret = Secret.fromSecretCompleteArn(this, 'KeysetSecretRef', secret.ref);
    new CfnResourcePolicy(this, 'KeysetSecretPolicy', {
      secretId: secret.ref,
      blockPublicPolicy: true,
      resourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:*',
            Resource: '*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });

    this.rotation = new RekeyFunction(this, 'Rotation', {
      handler: 'rotation',
      key: props.key,
      timeout: FUNCTION_TIMEOUTS.rotation,
      environment: {
        ...databaseEnvironment(props.database),
        [ENV.keyringKind]: 'hierarchical',
        [ENV.kmsKeyArn]: props.key.keyArn,
        [ENV.keysetSecretArn]: this.secret.secretArn,
      },
      statements: [
        ...databaseStatements(props.database),
        secretStatement(this.secret.secretArn, [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ]),
        // Wraps the new KEK (Encrypt / GenerateDataKey), unwraps the keyset for the self-test (Decrypt);
        // Secrets Manager encrypts the new secret version with the same key on the function's behalf.
        kmsStatement(props.key, ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']),
      ],
    });
    this.rotation.function.addPermission('SecretsManagerInvoke', {
      principal: new ServicePrincipal('secretsmanager.amazonaws.com'),
      sourceAccount: Stack.of(this).account,
      sourceArn: this.secret.secretArn,
    });

    this.rotationSchedule = new CfnRotationSchedule(this, 'RotationSchedule', {
      secretId: this.secret.secretArn,
      rotationLambdaArn: this.rotation.function.functionArn,
      rotationRules: { scheduleExpression, duration: `${window.toHours()}h` },
      rotateImmediatelyOnUpdate: props.rotateImmediately ?? false,
    });
    // Secrets Manager invokes the function as soon as the schedule exists: the function and its
    // invoke permission (a child of the function construct) must be there first.
    this.rotationSchedule.node.addDependency(this.rotation.function);

    if (props.stateMachine) this.startsRewrapWith(props.stateMachine);
    this.node.addValidation({
      validate: () =>
        this.stateMachine
          ? []
          : [
              `KeysetRotation ${this.node.path}: no state machine for finishSecret's rewrap: pass stateMachine or call startsRewrapWith()`,
            ],
    });
  }

  /** finishSecret starts a `rewrap` execution on `stateMachine` (STATE_MACHINE_ARN + states:StartExecution on it). */
  startsRewrapWith(stateMachine: IStateMachine): void {
    if (this.stateMachine)
      throw new ConstructUsageError(`KeysetRotation ${this.node.path}: startsRewrapWith() was already called`);
    this.stateMachine = stateMachine;
    this.rotation.function.addEnvironment(ENV.stateMachineArn, stateMachine.stateMachineArn);
    this.rotation.role.addToPolicy(
      new PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.stateMachineArn] }),
    );
  }
}

/** Secrets Manager's rotation schedule expressions: `rate(N days|hours)` or a six-field `cron(...)`. */
const ROTATION_SCHEDULE = /^(rate\((\d+) (days?|hours?)\)|cron\(\S+( \S+){5}\))$/;

/** Adds a problem for every invalid prop; returns the schedule expression and window. */
export function checkKeysetRotationProps(
  problems: PropsProblems,
  props: Pick<KeysetRotationProps, 'rotateEvery' | 'schedule' | 'window'>,
  /** Prop names to report under (the stack calls them rotationEvery, rotationSchedule, rotationWindow). */
  names = { rotateEvery: 'rotateEvery', schedule: 'schedule', window: 'window' },
): { scheduleExpression: string; window: Duration } {
  const rotateEvery = props.rotateEvery ?? SCHEDULE_DEFAULTS.rotationEvery;
  // Secrets Manager accepts rotation rates of 1 to 1000 days.
  problems.wholeDays(names.rotateEvery, rotateEvery, 1, 1000);
  const window = props.window ?? SCHEDULE_DEFAULTS.rotationWindow;
  const hours = window.toHours({ integral: false });
  problems.check(
    Number.isInteger(hours) && hours >= 1 && hours <= 24,
    names.window,
    `must be whole hours from 1 to 24, got ${window.toHumanString()}`,
  );
  const scheduleExpression = props.schedule ?? `rate(${rotateEvery.toDays({ integral: false })} days)`;
  if (props.schedule !== undefined) {
    const m = ROTATION_SCHEDULE.exec(props.schedule);
    if (!m)
      problems.add(
        names.schedule,
        `must be "rate(N days)", "rate(N hours)" or "cron(min hour day month weekday year)", got ${JSON.stringify(props.schedule)}`,
      );
    else if (m[2] !== undefined) {
      const n = Number(m[2]);
      const ok = m[3]!.startsWith('day') ? n >= 1 && n <= 1000 : n >= 4 && n <= 23;
      problems.check(
        ok,
        names.schedule,
        `a rate must be 1–1000 days or 4–23 hours, got ${JSON.stringify(props.schedule)}`,
      );
    }
  }
  return { scheduleExpression, window };
}
