import { RemovalPolicy } from 'aws-cdk-lib';
import { FlowLogDestination, FlowLogTrafficType, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  AuroraPostgresEngineVersion,
  CfnDBCluster,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
} from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import type { DataApiDatabase } from './database';
import { FUNCTION_DEFAULTS, TRIAL_DATABASE_DEFAULTS } from './defaults';
import { PropsProblems } from './errors';
import { allowCloudWatchLogs } from './key-policies';
import { acknowledge } from './nag';

export interface TrialDatabaseOptions {
  /**
   * Deletion protection of the cluster. Off: a trial is meant to be destroyed with `cdk destroy`
   * (which then keeps a final snapshot). On, `cdk destroy` fails until it is turned off.
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Lowest Aurora Serverless v2 capacity (ACU, 0–256; 0 lets the cluster pause when idle,
   * and the first Data API call after a pause waits for it to resume).
   * @default 0.5
   */
  readonly minCapacity?: number;
  /**
   * Highest Aurora Serverless v2 capacity (ACU, 1–256).
   * @default 2
   */
  readonly maxCapacity?: number;
}

export interface TrialDatabaseProps extends TrialDatabaseOptions {
  /** Encrypts the storage, the master user secret and the VPC flow logs. */
  readonly key: IKey;
}

/**
 * A small Aurora Serverless v2 PostgreSQL cluster with the RDS Data API, for
 * trying rekey without a database of one's own: isolated subnets only (the
 * Data API needs no network path from the functions), storage encrypted with
 * the stack key, IAM authentication on, a non-default port, no deletion
 * protection by default (a final snapshot on delete instead), and the master
 * password managed and rotated by RDS in Secrets Manager (encrypted with the
 * stack key).
 */
export class TrialDatabase extends Construct {
  readonly vpc: Vpc;
  readonly cluster: DatabaseCluster;
  /** What the functions need to reach it through the Data API. */
  readonly database: DataApiDatabase;

  constructor(scope: Construct, id: string, props: TrialDatabaseProps) {
    super(scope, id);
    const problems = PropsProblems.for(`TrialDatabase ${this.node.path}`);
    const settings = checkTrialDatabaseProps(problems, props);
    problems.throwIfAny();
    allowCloudWatchLogs(props.key);

    this.vpc = new Vpc(this, 'Vpc', {
      maxAzs: TRIAL_DATABASE_DEFAULTS.maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Nothing uses the default security group here; restricting it would deploy a custom-resource Lambda for nothing.
      restrictDefaultSecurityGroup: false,
    });
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      encryptionKey: props.key,
      retention: FUNCTION_DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: FlowLogTrafficType.ALL,
    });

    this.cluster = new DatabaseCluster(this, 'Cluster', {
      engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_17_7 }),
      writer: ClusterInstance.serverlessV2('Writer'),
      serverlessV2MinCapacity: settings.minCapacity,
      serverlessV2MaxCapacity: settings.maxCapacity,
      enableDataApi: true,
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      defaultDatabaseName: TRIAL_DATABASE_DEFAULTS.databaseName,
      port: TRIAL_DATABASE_DEFAULTS.port,
      credentials: Credentials.fromUsername('rekey_admin'),
      manageMasterUserPassword: true,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      iamAuthentication: true,
      deletionProtection: settings.deletionProtection,
      backup: { retention: TRIAL_DATABASE_DEFAULTS.backupRetention },
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    const cfn = this.cluster.node.defaultChild as CfnDBCluster;
    cfn.masterUserSecret = { kmsKeyId: props.key.keyArn };
    if (!settings.deletionProtection) {
      acknowledge(
        this.cluster,
        'AwsSolutions-RDS10',
        'A trial cluster is throwaway: cdk destroy must delete it (RemovalPolicy.SNAPSHOT keeps a final snapshot). trialDatabase.deletionProtection: true turns protection on.',
      );
    }

    this.database = {
      clusterArn: this.cluster.clusterArn,
      secretArn: cfn.attrMasterUserSecretSecretArn,
      databaseName: TRIAL_DATABASE_DEFAULTS.databaseName,
      secretKey: props.key,
    };
  }
}

interface TrialSettings {
  deletionProtection: boolean;
  minCapacity: number;
  maxCapacity: number;
}

/** Adds a problem for every invalid option; returns them with defaults applied. */
export function checkTrialDatabaseProps(problems: PropsProblems, props: TrialDatabaseOptions): TrialSettings {
  const s: TrialSettings = {
    deletionProtection: props.deletionProtection ?? TRIAL_DATABASE_DEFAULTS.deletionProtection,
    minCapacity: props.minCapacity ?? TRIAL_DATABASE_DEFAULTS.minCapacity,
    maxCapacity: props.maxCapacity ?? TRIAL_DATABASE_DEFAULTS.maxCapacity,
  };
  const halfSteps = (prop: string, v: number, min: number): void =>
    problems.check(
      Number.isFinite(v) && v >= min && v <= 256 && Number.isInteger(v * 2),
      prop,
      `must be ${min}–256 ACU in steps of 0.5, got ${v}`,
    );
  halfSteps('minCapacity', s.minCapacity, 0);
  halfSteps('maxCapacity', s.maxCapacity, 1);
  problems.check(
    s.minCapacity <= s.maxCapacity,
    'maxCapacity',
    `must be ≥ minCapacity (${s.minCapacity}), got ${s.maxCapacity}`,
  );
  return s;
}
