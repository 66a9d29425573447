import { EnvelopeCipher } from '../crypto/envelope-cipher';
import { HierarchicalKeyring } from '../crypto/keyrings/hierarchical';
import { parseKeyset } from '../crypto/keyrings/keyset-document';
import type { KmsPort } from '../ports/kms';
import type { MonitoringPort } from '../ports/monitoring';
import type { QueuePort } from '../ports/queues';
import { AWSCURRENT, type SecretsPort } from '../ports/secrets';
import type { Sql } from '../ports/sql';
import { readDeadLetters } from '../pipeline/stuck-batches';
import type { Registry } from '../reencrypt/config/registry';
import { checkAgainstDatabase } from '../reencrypt/sql/table-shape';
import { isBootstrapDocument } from '../rotation/keyset-versions';
import { schemaStatus } from '../schema/migrate';
import { CheckFailed, type Check } from './report';
import { cloudWatchMayPublish } from './topic-policy';

/**
 * The checks of `rekey doctor` (docs/doctor.md has what each means and what
 * to do when it fails). Each reads what it needs from `DoctorTargets`; a
 * target the deployment lacks (no keyset secret with the kms keyring) makes
 * its check a skip, a target the operator forgot (no database name) a
 * failure naming it.
 */
export interface DoctorTargets {
  readonly kmsKeyArn?: string | undefined;
  readonly keysetSecretArn?: string | undefined;
  /** How the database is reached, for messages (cluster ARN / database). */
  readonly database?: string | undefined;
  readonly registry?: Registry | undefined;
  /** The stack's alarms are named `<stack>-…`. */
  readonly alarmNamePrefix?: string | undefined;
  readonly alarmTopicArn?: string | undefined;
  readonly scheduleGroupName?: string | undefined;
  readonly deadLetterQueueUrl?: string | undefined;
}

export interface DoctorDeps {
  readonly kms: KmsPort;
  readonly secrets: SecretsPort;
  /** The database through the Data API; undefined with the reason when it cannot be built (missing ARN or name). */
  readonly sql: Sql | { readonly missing: string };
  readonly monitoring: MonitoringPort;
  readonly queues: QueuePort;
}

export function doctorChecks(t: DoctorTargets, deps: DoctorDeps): Check[] {
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined || value === '')
      throw new CheckFailed(`no ${what}: pass it, or --outputs with the stack's outputs`);
    return value;
  };
  const sql = (): Sql => {
    if ('missing' in deps.sql) throw new CheckFailed(`the Data API cannot be reached without ${deps.sql.missing}`);
    return deps.sql;
  };
  return [
    {
      id: 'kms-key',
      title: 'the KMS key makes and opens a data key',
      run: () => kmsKeyCheck(deps.kms, need(t.kmsKeyArn, 'KmsKeyArn')),
    },
    {
      id: 'keyset',
      title: "the keyset secret's AWSCURRENT is a keyset whose keys decrypt through KMS",
      run: async () =>
        t.keysetSecretArn
          ? keysetCheck(deps, t.keysetSecretArn)
          : { skip: 'no KeysetSecretArn output (kms keyring: no keyset)' },
    },
    { id: 'data-api', title: 'the Data API answers', run: () => dataApiCheck(sql(), t.database ?? 'the database') },
    { id: 'migrations', title: "rekey's migrations are applied", run: () => migrationsCheck(sql()) },
    {
      id: 'registry',
      title: 'every registry table and column exists with a type that fits',
      run: () => registryCheck(sql(), need(t.registry, 'registry (--config)')),
    },
    {
      id: 'alarms',
      title: "the stack's alarms notify the alarm topic",
      run: () =>
        alarmsCheck(
          deps.monitoring,
          need(t.alarmNamePrefix, 'stack name (--stack)'),
          need(t.alarmTopicArn, 'AlarmTopicArn'),
        ),
    },
    {
      id: 'alarm-delivery',
      title: "the alarm topic's policy lets CloudWatch publish",
      run: () => deliveryCheck(deps.monitoring, need(t.alarmTopicArn, 'AlarmTopicArn')),
    },
    {
      id: 'alarm-subscription',
      title: 'the alarm topic has a confirmed subscription',
      run: () => subscriptionCheck(deps.monitoring, need(t.alarmTopicArn, 'AlarmTopicArn')),
    },
    {
      id: 'schedules',
      title: 'the rotation and inventory schedules are enabled',
      run: async () =>
        t.scheduleGroupName
          ? schedulesCheck(deps.monitoring, t.scheduleGroupName)
          : { skip: 'no ScheduleGroupName output (a stack from before rekey doctor)' },
    },
    {
      id: 'dead-letter-queue',
      title: 'no batch sits in the dead-letter queue',
      run: () => deadLetterCheck(deps.queues, need(t.deadLetterQueueUrl, 'DeadLetterQueueUrl')),
    },
  ];
}

async function kmsKeyCheck(kms: KmsPort, keyId: string): Promise<string> {
  const context = { purpose: 'rekey-doctor' };
  const made = await kms.generateDataKey({ keyId, context });
  const opened = await kms.decrypt({ ciphertextBlob: made.ciphertextBlob, keyId, context });
  const same = opened.equals(made.plaintext);
  made.plaintext.fill(0);
  opened.fill(0);
  if (!same) throw new CheckFailed(`${keyId}: KMS Decrypt returned another key than GenerateDataKey made`);
  return `${keyId}: GenerateDataKey and Decrypt work`;
}

async function keysetCheck(deps: Pick<DoctorDeps, 'kms' | 'secrets'>, secretId: string): Promise<string> {
  const current = await deps.secrets.getSecretValue({ secretId, versionStage: AWSCURRENT });
  if (isBootstrapDocument(current.string)) {
    throw new CheckFailed(
      `${secretId}: AWSCURRENT is still the bootstrap document, so the first rotation has not completed. ` +
        `Read the rotation function's log, fix the cause, then: rekey keys rotate --secret-id ${secretId}`,
    );
  }
  const keyset = parseKeyset(current.string, `${secretId} (AWSCURRENT)`);
  const keyring = new HierarchicalKeyring({
    kms: deps.kms,
    secrets: deps.secrets,
    secretId,
    versionId: current.versionId,
  });
  try {
    const ids = await keyring.keyIds(); // unwraps every KEK through KMS
    const cipher = await EnvelopeCipher.create({ keyring });
    const where = { table: 'rekey_doctor', column: 'probe', rowId: '1' };
    const probe = await cipher.encrypt('rekey doctor probe', where);
    if ((await cipher.decrypt(probe, where)).toString() !== 'rekey doctor probe')
      throw new CheckFailed(`${secretId}: an envelope did not decrypt to what was encrypted`);
    return `primary ${keyset.primary}, ${ids.length} key(s) (${ids.join(', ')}); every KEK unwrapped by ${keyset.kmsKeyId}, an envelope round trip works`;
  } finally {
    await keyring.refresh(); // zeroes the unwrapped KEKs
  }
}

async function dataApiCheck(sql: Sql, where: string): Promise<string> {
  const { rows } = await sql.query<{ ok: unknown }>('SELECT 1 AS ok');
  if (Number(rows[0]?.ok) !== 1)
    throw new CheckFailed(`${where}: SELECT 1 answered ${JSON.stringify(rows[0] ?? null)}`);
  return `${where}: SELECT 1 answered`;
}

async function migrationsCheck(sql: Sql): Promise<string> {
  const s = await schemaStatus(sql);
  if (s.databaseVersion > s.codeVersion) {
    throw new CheckFailed(
      `the database is at schema v${s.databaseVersion}, newer than this rekey (v${s.codeVersion}): upgrade rekey`,
    );
  }
  if (s.pending.length > 0) {
    const names = s.pending.map((m) => `v${m.version} ${m.name}`).join(', ');
    throw new CheckFailed(
      `${s.pending.length} migration(s) pending (${names}): run rekey migrate (an execution's first state applies them too)`,
    );
  }
  return `schema v${s.databaseVersion}, nothing pending`;
}

async function registryCheck(sql: Sql, registry: Registry): Promise<string> {
  if (registry.tables.length === 0) throw new CheckFailed('the registry lists no table: nothing would be rotated');
  const shapes = await checkAgainstDatabase(sql, registry); // RegistryError lists every problem
  const columns = registry.tables.reduce((n, t) => n + t.columns.length, 0);
  return `${shapes.size} table(s), ${columns} column(s) match the database`;
}

async function alarmsCheck(monitoring: MonitoringPort, prefix: string, topicArn: string): Promise<string> {
  const alarms = await monitoring.alarms(prefix);
  if (alarms.length === 0)
    throw new CheckFailed(`no alarm named ${prefix}*: is the stack deployed in this account and region?`);
  const silent = alarms.filter((a) => !a.actionsEnabled || !a.alarmActions.includes(topicArn));
  if (silent.length > 0) {
    const names = silent
      .map((a) => `${a.name} (${a.actionsEnabled ? 'does not notify the topic' : 'actions disabled'})`)
      .join(', ');
    throw new CheckFailed(`${silent.length} of ${alarms.length} alarm(s) would notify no one: ${names}`);
  }
  return `${alarms.length} alarm(s), each notifies ${topicArn}`;
}

async function deliveryCheck(monitoring: MonitoringPort, topicArn: string): Promise<string> {
  const verdict = cloudWatchMayPublish(await monitoring.topicPolicy(topicArn));
  if (!verdict.allowed)
    throw new CheckFailed(
      `${topicArn}: ${verdict.reason}. Redeploy a rekey whose topic policy allows cloudwatch.amazonaws.com (docs/alarms.md)`,
    );
  return `CloudWatch may publish to ${topicArn} (${verdict.reason})`;
}

async function subscriptionCheck(monitoring: MonitoringPort, topicArn: string): Promise<string> {
  const subs = await monitoring.subscriptions(topicArn);
  const confirmed = subs.filter((s) => s.confirmed);
  if (confirmed.length === 0) {
    const pending = subs.length - confirmed.length;
    throw new CheckFailed(
      `${topicArn} has no confirmed subscription${pending ? ` (${pending} pending: confirm the e-mail SNS sent)` : ''}: ` +
        `alarms fire to no one. Subscribe with: aws sns subscribe --topic-arn ${topicArn} --protocol email --notification-endpoint you@example.com`,
    );
  }
  return `${confirmed.length} confirmed subscription(s) (${[...new Set(confirmed.map((s) => s.protocol))].join(', ')})`;
}

async function schedulesCheck(monitoring: MonitoringPort, group: string): Promise<string> {
  const schedules = await monitoring.schedules(group);
  if (schedules.length === 0)
    throw new CheckFailed(
      `schedule group ${group} holds no schedule: is the stack deployed in this account and region?`,
    );
  const off = schedules.filter((s) => s.state !== 'ENABLED');
  if (off.length > 0) {
    throw new CheckFailed(
      `${off.length} of ${schedules.length} schedule(s) not enabled: ${off.map((s) => `${s.name} (${s.state})`).join(', ')}. Re-deploy, or enable them in EventBridge Scheduler`,
    );
  }
  return `${schedules.length} schedule(s) enabled in ${group}`;
}

async function deadLetterCheck(queues: QueuePort, url: string): Promise<string> {
  const depth = await queues.depth(url);
  const total = depth.visible + depth.inFlight;
  if (total === 0) return `${url} is empty`;
  const { byJob, other } = await readDeadLetters(queues, url, 200);
  const jobs = [...byJob.entries()].map(
    ([job, batches]) => `job ${job}: ${batches.size} batch(es) → rekey redrive ${job}`,
  );
  throw new CheckFailed(
    `${total} message(s) in the dead-letter queue${jobs.length ? `; ${jobs.join('; ')}` : ''}${other ? `; ${other} not a batch message (inspect and delete)` : ''}`,
  );
}
