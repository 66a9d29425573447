import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { ENV } from './environment';
import { dataApiStatement, kmsStatement, secretStatement } from './iam';

/** The Aurora PostgreSQL cluster the rekey functions reach through the RDS Data API. */
export interface DataApiDatabase {
  /** ARN of the Aurora cluster (Data API enabled). */
  readonly clusterArn: string;
  /** ARN of the Secrets Manager secret holding the database credentials the Data API uses. */
  readonly secretArn: string;
  /** Database name. */
  readonly databaseName: string;
  /**
   * The KMS key encrypting the credentials secret, when it is a customer
   * managed key: the functions get kms:Decrypt on it through Secrets Manager.
   * @default - the secret uses the AWS managed key (nothing to grant)
   */
  readonly secretKey?: IKey;
}

/** Environment naming the database for the Data API adapter. */
export function databaseEnvironment(db: DataApiDatabase): Record<string, string> {
  return { [ENV.dbClusterArn]: db.clusterArn, [ENV.dbSecretArn]: db.secretArn, [ENV.dbName]: db.databaseName };
}

/** Data API calls on the cluster, and reading its credentials secret. */
export function databaseStatements(db: DataApiDatabase): PolicyStatement[] {
  const statements = [
    dataApiStatement(db.clusterArn),
    secretStatement(db.secretArn, ['secretsmanager:GetSecretValue']),
  ];
  if (db.secretKey) statements.push(kmsStatement(db.secretKey, ['kms:Decrypt'], { viaService: 'secretsmanager' }));
  return statements;
}
