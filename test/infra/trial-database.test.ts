import { Template } from 'aws-cdk-lib/assertions';
import { InvalidPropsError } from '../../lib/errors';
import { TrialDatabase, type TrialDatabaseOptions } from '../../lib/trial-database';
import { nagFindings, resourcesOf, SYNTH_TIMEOUT_MS, testStack } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(options: TrialDatabaseOptions = {}) {
  const { stack, key } = testStack();
  const db = new TrialDatabase(stack, 'TrialDatabase', { key, ...options });
  return { stack, key, db, template: Template.fromStack(stack) };
}

describe('TrialDatabase', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build();
  });

  test('Aurora Serverless v2 PostgreSQL with the Data API, encrypted with the stack key, IAM auth, non-default port, no deletion protection (a final snapshot instead)', () => {
    const keyArn = { 'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'] };
    t.template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      KmsKeyId: keyArn,
      EnableIAMDatabaseAuthentication: true,
      Port: 15432,
      DeletionProtection: false,
      DatabaseName: 'rekey',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 2 },
      ManageMasterUserPassword: true,
      MasterUserSecret: { KmsKeyId: keyArn },
      BackupRetentionPeriod: 7,
    });
    t.template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
    // cdk destroy deletes a trial cluster, keeping a final snapshot.
    expect(Object.values(resourcesOf(t.template, 'AWS::RDS::DBCluster'))[0]!.DeletionPolicy).toBe('Snapshot');
  });

  test('the functions reach it through the cluster ARN and the RDS-managed secret', () => {
    const cluster = t.stack.getLogicalId(t.db.cluster.node.defaultChild as never);
    expect(t.stack.resolve(t.db.database.secretArn)).toEqual({ 'Fn::GetAtt': [cluster, 'MasterUserSecret.SecretArn'] });
    expect(JSON.stringify(t.stack.resolve(t.db.database.clusterArn))).toContain(cluster);
    expect(t.db.database.databaseName).toBe('rekey');
  });

  test('isolated subnets only, with flow logs to a KMS-encrypted log group', () => {
    t.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    t.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    for (const subnet of Object.values(resourcesOf(t.template, 'AWS::EC2::Subnet')))
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    t.template.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    const groups = Object.values(resourcesOf(t.template, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(1);
    expect(groups[0]!.Properties.KmsKeyId).toBeDefined();
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.db)).toEqual([]);
  });

  test('deletion protection is an option, and needs no cdk-nag acknowledgment when on', () => {
    const on = build({ deletionProtection: true, minCapacity: 0, maxCapacity: 4 });
    on.template.hasResourceProperties('AWS::RDS::DBCluster', {
      DeletionProtection: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4 },
    });
    expect(nagFindings(on.db)).toEqual([]);
  });

  test('bad capacities: one error listing every problem', () => {
    const { stack, key } = testStack();
    let error: unknown;
    try {
      new TrialDatabase(stack, 'Db', { key, minCapacity: 0.3, maxCapacity: 300 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect((error as InvalidPropsError).problems.map((p) => p.split(':')[0])).toEqual(['minCapacity', 'maxCapacity']);
  });
});
