import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatPlan } from '../../core/plan/format';
import { planFromJob, planRotation, type PlanOptions } from '../../core/plan/plan-job';
import { PlanInputError } from '../../core/plan/errors';
import { pricesWith, type PriceTable } from '../../core/plan/prices';
import type { Runner } from '../../core/plan/throughput';
import type { RotationPlan } from '../../core/plan/estimate';
import type { JobRecord } from '../../core/reencrypt/store/job-store';
import type { Mode } from '../../core/reencrypt/values/modes';
import type { EngineRuntime } from '../../runtime/engine-runtime';
import { EXIT, UsageError, type CliIo, type GlobalOptions } from '../io';
import { actorOf, openSession, printJson } from '../session';
import { requestedTarget, checkTables } from './targets';

export interface PlanCommandOptions {
  readonly batchSize?: number;
  readonly table?: string[];
  readonly mode: Mode;
  readonly concurrency?: number;
  readonly targetKey?: string;
  readonly tenant?: string;
  readonly runner: Runner;
  readonly region?: string;
  readonly kmsQuota?: number;
  readonly prices?: string;
}

/**
 * `rekey plan`: a dry-run job planned now (nothing changes: catalog changes
 * are previewed, tables only read) and what the real job would change, call,
 * take and cost, with recommendations. `--json` prints the plan object.
 */
export async function planCommand(globals: GlobalOptions, options: PlanCommandOptions, io: CliIo): Promise<number> {
  const prices = options.prices !== undefined ? readPrices(options.prices, io) : undefined;
  const runtime = await openSession(globals, io, { syncCatalog: 'preview' });
  try {
    checkTables(runtime, options.table);
    const target = await requestedTarget(runtime, options);
    const { plan } = await planRotation(
      runtime.deps,
      {
        mode: options.mode,
        targetKeyId: target,
        tables: options.table,
        batchSize: options.batchSize,
        tenant: options.tenant,
        requestedBy: actorOf(globals, io),
        previewTarget: !options.targetKey && runtime.catalogChanges.length > 0,
      },
      planOptions(runtime, options, io, prices),
    );
    printPlan(io, globals, plan);
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

/** The plan of a dry-run job the CLI already ran (`rekey reencrypt -n`), with the same settings `rekey plan` takes. */
export function planOfDryRun(
  runtime: EngineRuntime,
  job: JobRecord,
  options: { readonly concurrency: number },
  io: CliIo,
): Promise<RotationPlan> {
  return planFromJob(
    runtime.deps,
    job,
    planOptions(runtime, { runner: 'cli', concurrency: options.concurrency }, io, undefined),
  );
}

/** Prints a plan: the table and lines, or the object with --json. The demo calls it too. */
export function printPlan(io: Pick<CliIo, 'stdout'>, globals: Pick<GlobalOptions, 'json'>, plan: RotationPlan): void {
  if (globals.json) printJson(io as CliIo, plan);
  else io.stdout(`${formatPlan(plan).join('\n')}\n`);
}

function planOptions(
  runtime: EngineRuntime,
  options: Pick<PlanCommandOptions, 'runner' | 'concurrency' | 'region' | 'kmsQuota'>,
  io: CliIo,
  prices: PriceTable | undefined,
): PlanOptions {
  return {
    runner: options.runner,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    region: options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(options.kmsQuota !== undefined ? { kmsQuotaPerSecond: options.kmsQuota } : {}),
    ...(prices ? { prices } : {}),
    keyring: runtime.keyring.kind,
  };
}

function readPrices(file: string, io: CliIo): PriceTable {
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--prices ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PlanInputError([`not JSON: ${(err as Error).message}`], `--prices ${file}`);
  }
  return pricesWith(parsed, `--prices ${file}`);
}
