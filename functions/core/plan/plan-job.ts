import type { KeyringKind } from '../crypto/keyring';
import { DEFAULT_KEYSET_TTL_MS } from '../crypto/keyrings/hierarchical';
import type { EngineDeps } from '../reencrypt/ports';
import { startJob } from '../reencrypt/jobs/job-runner';
import type { JobRecord } from '../reencrypt/store/job-store';
import type { JobRequest } from '../reencrypt/jobs/jobs';
import { verify } from '../reencrypt/verify/verify';
import { buildPlan, type RotationPlan, type TableCounts } from './estimate';
import { recentJobFigures } from './history';
import { kmsQuota } from './kms-quotas';
import { operationsFor, operationsOfPendingRows } from './operations';
import { PIPELINE_SHAPE } from './pipeline-shape';
import { DEFAULT_PRICES, type PriceTable } from './prices';
import { probeSpeed, REFERENCE_REWRAPS_PER_SECOND, type SpeedProbe } from './speed-probe';
import { chooseThroughput, type Runner, type Throughput } from './throughput';

export interface PlanOptions {
  /** Where the job would run. @default 'cli' */
  readonly runner?: Runner | undefined;
  /** Workers: CLI threads, or the pipeline's Lambda concurrency. @default 1 (CLI) / PIPELINE_SHAPE.maxConcurrency */
  readonly concurrency?: number | undefined;
  /** For the KMS quota's default. @default AWS_REGION, else us-east-1 */
  readonly region?: string | undefined;
  /** The account's KMS request quota per second, when known. */
  readonly kmsQuotaPerSecond?: number | undefined;
  readonly prices?: PriceTable | undefined;
  /** The keyring the job would use, when the catalog cannot say (a dry run previewing a key not registered yet). */
  readonly keyring?: KeyringKind | undefined;
  /**
   * Classify every value (one more read of the tables) to split the rows by
   * operation and find values the mode cannot move. @default true
   */
  readonly inventory?: boolean | undefined;
  /**
   * With no job history on the CLI runner, measure this machine's speed and
   * scale the documented defaults by it (speed-probe.ts). Tests pass a fixed
   * probe. @default probeSpeed
   */
  readonly speedProbe?: (() => Promise<SpeedProbe>) | false | undefined;
}

/** A dry-run job planned now, and the plan of the real job it stands for. */
export async function planRotation(
  deps: EngineDeps,
  request: JobRequest,
  options: PlanOptions = {},
): Promise<{ readonly plan: RotationPlan; readonly job: JobRecord }> {
  const concurrency = options.concurrency ?? defaultConcurrency(options.runner);
  const outcome = await startJob(deps, {
    ...request,
    dryRun: true,
    options: { ...(request.options ?? {}), concurrency },
  });
  return { plan: await planFromJob(deps, outcome.job, { ...options, concurrency }), job: outcome.job };
}

/**
 * The plan of a planned job (its per-table counts), with the inventory of
 * its tables, the keyring of its target key, the calibration from this
 * database's finished jobs, the KMS quota and the price table.
 */
export async function planFromJob(deps: EngineDeps, job: JobRecord, options: PlanOptions = {}): Promise<RotationPlan> {
  const runner = options.runner ?? 'cli';
  const concurrency = options.concurrency ?? defaultConcurrency(runner);
  const summary = job.plan ?? [];
  let counts: TableCounts[];
  if (options.inventory === false) {
    counts = summary.map((t) => ({ ...t, operations: operationsOfPendingRows(job.mode, t.rowsPending) }));
  } else {
    const report = await verify(
      { sql: deps.sql, registry: deps.registry, crypto: deps.crypto, shapes: deps.shapes },
      { targetKeyId: job.targetKeyId, tables: job.tables, scope: job.scope },
    );
    counts = summary.map((t) => {
      const v = report.tables.find((x) => x.table === t.table);
      const operations = v
        ? operationsFor(
            job.mode,
            { ...v.values, plaintextSources: v.rowsWithPlaintextSource },
            job.targetKeyId,
            v.format === 'fernet' || v.format === 'json-key-id'
              ? { format: v.format, targetKeyId: v.targetKeyId ?? job.targetKeyId, fernetByKey: v.values.fernetByKey }
              : undefined,
          )
        : operationsOfPendingRows(job.mode, t.rowsPending);
      return { ...t, operations };
    });
  }
  const keys = await deps.sql.query<{ id: string; keyring: KeyringKind; status: string }>(
    `SELECT id, keyring, status FROM rekey_keys WHERE tenant IS NULL OR id = $1`,
    [job.targetKeyId],
  );
  const keyring = keys.rows.find((k) => k.id === job.targetKeyId)?.keyring ?? options.keyring ?? 'raw';
  const keysetKeys = Math.max(
    1,
    keys.rows.filter((k) => k.keyring === 'hierarchical' && k.status !== 'destroyed').length +
      (keys.rows.some((k) => k.id === job.targetKeyId) ? 0 : 1),
  );
  const request = { runner, mode: job.mode, keyring, concurrency, batchSize: job.batchSize };
  const history = await recentJobFigures(deps.sql, job.mode, { pipelineConcurrency: PIPELINE_SHAPE.maxConcurrency });
  const rewrapHistory =
    job.mode === 'reencrypt'
      ? await recentJobFigures(deps.sql, 'rewrap', { pipelineConcurrency: PIPELINE_SHAPE.maxConcurrency })
      : [];
  const region = options.region ?? 'us-east-1';
  return buildPlan(counts, {
    mode: job.mode,
    keyring,
    targetKeyId: job.targetKeyId,
    runner,
    batchSize: job.batchSize,
    concurrency,
    kmsQuota: kmsQuota(region, options.kmsQuotaPerSecond),
    prices: options.prices ?? DEFAULT_PRICES,
    throughput: await scaledToThisMachine(chooseThroughput(request, history), runner, options.speedProbe),
    keysetKeys,
    keysetTtlSeconds: DEFAULT_KEYSET_TTL_MS / 1000,
    counted: options.inventory === false ? 'pending rows' : 'inventory',
    alternatives:
      job.mode === 'reencrypt'
        ? { rewrap: chooseThroughput({ ...request, mode: 'rewrap' }, rewrapHistory) }
        : undefined,
  });
}

/** A default (no history) for the CLI runner is scaled by how fast this machine is now; history already is. */
async function scaledToThisMachine(
  t: Throughput,
  runner: Runner,
  probe: PlanOptions['speedProbe'],
): Promise<Throughput> {
  if (t.source !== 'default' || runner !== 'cli' || probe === false) return t;
  const speed = await (probe ?? probeSpeed)();
  return {
    ...t,
    rowsPerSecond: t.rowsPerSecond * speed.factor,
    scanRowsPerSecond: t.scanRowsPerSecond * speed.factor,
    basis: `${t.basis}, scaled by this machine's speed now (×${speed.factor.toFixed(2)}: ${Math.round(speed.rewrapsPerSecond).toLocaleString('en-US')} rewraps/s against the reference's ${REFERENCE_REWRAPS_PER_SECOND.toLocaleString('en-US')})`,
  };
}

function defaultConcurrency(runner: Runner | undefined): number {
  return runner === 'state-machine' ? PIPELINE_SHAPE.maxConcurrency : 1;
}
