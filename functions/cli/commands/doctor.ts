import { resolve } from 'node:path';
import { createDataApiSql } from '../../core/adapters/data-api-sql';
import { AwsKmsAdapter } from '../../core/adapters/aws-kms';
import { AwsMonitoring } from '../../core/adapters/aws-monitoring';
import { AwsSecretsAdapter } from '../../core/adapters/aws-secrets';
import { SqsQueues } from '../../core/adapters/aws-sqs';
import { doctorChecks, type DoctorDeps } from '../../core/doctor/checks';
import { formatReport, runChecks } from '../../core/doctor/report';
import { DEFAULT_REGISTRY_FILE, loadRegistry, type Registry } from '../../core/reencrypt/config/registry';
import { EXIT, type CliIo, type GlobalOptions } from '../io';
import { printJson } from '../session';
import { OUTPUT, readStackOutputs } from '../stack-outputs';

export interface DoctorOptions {
  readonly outputs: string;
  readonly stack?: string;
  readonly databaseName?: string;
}

/** Test seam: the ports (default: AWS SDK clients from the environment's configuration). */
export type DoctorClients = Partial<Omit<DoctorDeps, 'sql'>>;

/**
 * `rekey doctor --outputs cdk-outputs.json`: checks a deployment from its
 * stack outputs (core/doctor/checks.ts, docs/doctor.md) and prints one row
 * per check. Exit 0 only when no check failed.
 */
export async function doctorCommand(
  globals: GlobalOptions,
  opts: DoctorOptions,
  io: CliIo,
  clients: DoctorClients = {},
): Promise<number> {
  const { stack, outputs } = readStackOutputs(opts.outputs, opts.stack, io.cwd);
  const databaseName = opts.databaseName ?? outputs[OUTPUT.databaseName];
  const missing = [
    ...(outputs[OUTPUT.databaseClusterArn] ? [] : [`the ${OUTPUT.databaseClusterArn} output`]),
    ...(outputs[OUTPUT.databaseSecretArn] ? [] : [`the ${OUTPUT.databaseSecretArn} output`]),
    ...(databaseName ? [] : [`--database-name (or a ${OUTPUT.databaseName} output)`]),
  ];
  const sql = missing.length
    ? { missing: missing.join(', ') }
    : createDataApiSql({
        resourceArn: outputs[OUTPUT.databaseClusterArn]!,
        secretArn: outputs[OUTPUT.databaseSecretArn]!,
        database: databaseName!,
      });
  const registryFile = resolve(io.cwd, globals.config ?? DEFAULT_REGISTRY_FILE);
  let registry: Registry | undefined;
  let registryProblem: string | undefined;
  try {
    registry = loadRegistry(registryFile);
  } catch (err) {
    registryProblem = err instanceof Error ? err.message : String(err);
  }
  const deps: DoctorDeps = {
    kms: clients.kms ?? AwsKmsAdapter.fromConfig(),
    secrets: clients.secrets ?? AwsSecretsAdapter.fromConfig(),
    monitoring: clients.monitoring ?? new AwsMonitoring(),
    queues: clients.queues ?? new SqsQueues(),
    sql,
  };
  const checks = doctorChecks(
    {
      kmsKeyArn: outputs[OUTPUT.kmsKeyArn],
      keysetSecretArn: outputs[OUTPUT.keysetSecretArn],
      database: databaseName ? `database ${databaseName} on ${outputs[OUTPUT.databaseClusterArn] ?? '?'}` : undefined,
      registry,
      alarmNamePrefix: `${stack}-`,
      alarmTopicArn: outputs[OUTPUT.alarmTopicArn],
      scheduleGroupName: outputs[OUTPUT.scheduleGroupName],
      deadLetterQueueUrl: outputs[OUTPUT.deadLetterQueueUrl],
    },
    deps,
  );
  // The registry file's own problem is the registry check's failure, not a crash of the whole report.
  if (registryProblem) {
    const i = checks.findIndex((c) => c.id === 'registry');
    checks[i] = { ...checks[i]!, run: () => Promise.reject(new Error(`${registryFile}: ${registryProblem}`)) };
  }
  try {
    const results = await runChecks(checks);
    const ok = results.every((r) => r.status !== 'fail');
    if (globals.json) printJson(io, { stack, ok, checks: results });
    else io.stdout(`rekey doctor: stack ${stack}\n\n${formatReport(results)}`);
    return ok ? EXIT.ok : EXIT.failure;
  } finally {
    if (!('missing' in sql)) await sql.close();
  }
}
