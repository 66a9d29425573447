import { RUNTIME_ENV } from '../../core/environment-names';

import { JOB_DEFAULTS } from '../../core/job-settings';
import { getJob, type JobRecord } from '../../core/reencrypt/store/jobs-table';
import { runJob, startJob, type JobOutcome } from '../../core/reencrypt/jobs/job-runner';
import { createJob, planJob } from '../../core/reencrypt/jobs/jobs';
import { describeForeignLease, type ForeignLease } from '../../core/reencrypt/jobs/lease-takeover';
import type { Mode } from '../../core/reencrypt/values/modes';
import { EXIT, type CliIo, type GlobalOptions } from '../io';
import { progressReporter } from '../progress';
import { actorOf, openSession, printJson } from '../session';
import { startBatchWorkers, type WorkerPoolHandle } from '../worker-pool';
import { planOfDryRun, printPlan } from './plan';
import { checkTables, requestedTarget } from './targets';
import type { RotationPlan } from '../../core/plan/estimate';

export interface ReencryptOptions {
  readonly dryRun?: boolean;
  readonly batchSize?: number;
  readonly table?: string[];
  readonly mode: Mode;
  readonly concurrency: number;
  readonly maxErrorRate?: number;
  readonly targetKey?: string;
  readonly resume?: string;
  readonly tenant?: string;
}

/**
 * `rekey reencrypt`: plan (and with --dry-run, only report), then move every
 * value to the primary key in batches, verify, and retire the old key when
 * nothing is left under it. --concurrency N runs N-1 worker threads beside
 * this one, all claiming batches of the same job.
 */
export async function reencryptCommand(globals: GlobalOptions, options: ReencryptOptions, io: CliIo): Promise<number> {
  // A dry run reports the catalog changes the real run will make instead of making them.
  const runtime = await openSession(globals, io, options.dryRun ? { syncCatalog: 'preview' } : {});
  const abort = new AbortController();
  let pool: WorkerPoolHandle | undefined;
  const onSigint = (): void => {
    io.stderr(
      '\nInterrupted: finishing the batches in flight (Ctrl-C again to quit at once); resume with `rekey reencrypt --resume <job>`\n',
    );
    abort.abort();
    pool?.stop();
  };
  // A dry run changes nothing: Ctrl-C keeps its default meaning there and stops it at once.
  if (!options.dryRun) process.once('SIGINT', onSigint);
  try {
    checkTables(runtime, options.table);
    // A tenant job moves the tenant's rows to the tenant's own active key (createJob refuses a tenant without one).
    const target = await requestedTarget(runtime, options);
    const progress = progressReporter(io, Boolean(globals.quiet || globals.json));
    const started = Date.now();
    // Leases of other holders met once nothing else is left: a dead runner's are taken over at once, the others waited for.
    const tellLeases = (leases: readonly ForeignLease[]): void => {
      if (globals.json) return;
      // This run's own worker threads are alive and finishing their batches: nothing to say about them.
      for (const l of leases)
        if (l.state !== 'alive' || options.resume) io.stderr(`Leases: ${describeForeignLease(l)}\n`);
    };
    // The job's runner in this thread; with worker threads (pool) the batches run there and progress comes from the job row.
    const runWithProgress = (jobId: string): Promise<JobOutcome> =>
      withJobProgress(runtime, jobId, pool, progress, () =>
        runJob(runtime.deps, jobId, {
          concurrency: JOB_DEFAULTS.runnerConcurrency,
          onProgress: pool ? undefined : progress.update,
          signal: abort.signal,
          onForeignLeases: tellLeases,
        }),
      );
    let outcome: JobOutcome;
    // Rows done before this run (a resumed job's earlier runs) do not count towards this run's rows/s.
    let rowsBefore = 0;
    let dryRunPlan: RotationPlan | undefined;
    if (options.resume) {
      const job = await getJob(runtime.sql, options.resume);
      rowsBefore = job.counters.rowsDone;
      if (!globals.json && !globals.quiet) io.stderr(`Resuming job ${job.id} (${job.status})\n`);
      pool = startThreads(options, runtime, job.id, globals, io);
      outcome = await runWithProgress(job.id);
    } else if (options.dryRun) {
      const previewTarget = !options.targetKey && runtime.catalogChanges.length > 0;
      outcome = await startJob(
        runtime.deps,
        { ...request(options, target, globals, io, runtime.fernetPrimaryKeyId()), previewTarget },
        {},
      );
      // The same plan `rekey plan` prints: what the real run would change, call, take and cost.
      dryRunPlan = await planOfDryRun(runtime, outcome.job, { concurrency: options.concurrency }, io);
    } else {
      const job = await createJob(runtime.deps, request(options, target, globals, io, runtime.fernetPrimaryKeyId()));
      if (!globals.json && !globals.quiet)
        io.stderr(
          `Job ${job.id}: ${options.mode} to ${target}${job.fernetTargetKeyId ? ` (Fernet tables: ${job.fernetTargetKeyId})` : ''}\n`,
        );
      const planned = await runJobUntilRunning(runtime.deps, job.id);
      pool = planned ? startThreads(options, runtime, job.id, globals, io) : undefined;
      outcome = await runWithProgress(job.id);
    }
    if (pool) await pool.finished.catch((err: unknown) => io.stderr(`${(err as Error).message}\n`));
    progress.done();
    const seconds = (Date.now() - started) / 1000;
    return report(io, globals, outcome, seconds, rowsBefore, dryRunPlan);
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (pool) await pool.terminate();
    await runtime.close();
  }
}

/**
 * With worker threads the job row is the only place that sees every thread's
 * batches, so progress comes from its counters (twice a second) instead of
 * this thread's own batches.
 */
async function withJobProgress<T>(
  runtime: Awaited<ReturnType<typeof openSession>>,
  jobId: string,
  pool: WorkerPoolHandle | undefined,
  progress: ReturnType<typeof progressReporter>,
  run: () => Promise<T>,
): Promise<T> {
  if (!pool) return run();
  const started = Date.now();
  const tick = async (): Promise<void> => {
    const c = (await getJob(runtime.sql, jobId)).counters;
    const elapsedMs = Date.now() - started;
    const attempted = c.rowsDone + c.rowsFailed + c.rowsSkipped + c.rowsConflicted;
    progress.update({ jobId, ...c, elapsedMs, rowsPerSecond: elapsedMs > 0 ? (attempted * 1000) / elapsedMs : 0 });
  };
  const timer = setInterval(() => void tick().catch(() => undefined), 500);
  try {
    const result = await run();
    await tick().catch(() => undefined);
    return result;
  } finally {
    clearInterval(timer);
  }
}

function request(
  options: ReencryptOptions,
  target: string,
  globals: GlobalOptions,
  io: CliIo,
  fernetTarget: string | undefined,
) {
  return {
    mode: options.mode,
    targetKeyId: target,
    // ENCRYPTION_KEY's id: a Fernet table goes to the key this process was started with (createJob checks it is the active one).
    fernetTargetKeyId: fernetTarget,
    tables: options.table,
    batchSize: options.batchSize,
    dryRun: options.dryRun,
    maxErrorRate: options.maxErrorRate,
    tenant: options.tenant,
    requestedBy: actorOf(globals, io),
    // Kept with the job: the planner's calibration reads rows/s per concurrency from finished jobs.
    options: { concurrency: options.concurrency },
  };
}

/** Plans the job (so worker threads have batches to claim) without running it; false for a job with nothing to do. */
async function runJobUntilRunning(deps: Parameters<typeof runJob>[0], jobId: string): Promise<boolean> {
  const planned = await planJob(deps, jobId);
  return planned.job.status === 'running' && planned.job.counters.batchesTotal > 0;
}

function startThreads(
  options: ReencryptOptions,
  runtime: Awaited<ReturnType<typeof openSession>>,
  jobId: string,
  globals: GlobalOptions,
  io: CliIo,
): WorkerPoolHandle | undefined {
  if (options.concurrency <= 1) return undefined;
  const url = globals.databaseUrl ?? io.env[RUNTIME_ENV.databaseUrl]!;
  return startBatchWorkers(options.concurrency - 1, {
    jobId,
    databaseUrl: url,
    registryJson: JSON.stringify(runtime.registry),
    env: Object.fromEntries(Object.entries(io.env).filter((e): e is [string, string] => typeof e[1] === 'string')),
    actor: actorOf(globals, io),
    ...(globals.keyring ? { keyringKind: globals.keyring } : {}),
    ...(globals.keysetSecret ? { keysetSecretId: globals.keysetSecret } : {}),
  });
}

function report(
  io: CliIo,
  globals: GlobalOptions,
  outcome: JobOutcome,
  seconds: number,
  rowsBefore: number,
  dryRunPlan?: RotationPlan,
): number {
  const job: JobRecord = outcome.job;
  const c = job.counters;
  const attempted = c.rowsDone + c.rowsFailed + c.rowsConflicted;
  const rowsThisRun = c.rowsDone - rowsBefore;
  const rowsPerSecond = seconds > 0 ? Math.round(rowsThisRun / seconds) : 0;
  const code = outcome.dryRunReport || job.status === 'completed' ? EXIT.ok : EXIT.failure;
  if (globals.json) {
    printJson(io, {
      jobId: job.id,
      status: job.status,
      mode: job.mode,
      dryRun: job.dryRun,
      targetKeyId: job.targetKeyId,
      ...(job.fernetTargetKeyId ? { fernetTargetKeyId: job.fernetTargetKeyId } : {}),
      plan: outcome.plan ?? job.plan,
      counters: c,
      seconds,
      rowsPerSecond,
      retired: outcome.retire?.retired ?? job.retiredKeyIds,
      keptKeys: outcome.retire?.kept ?? [],
      interrupted: outcome.interrupted,
      error: job.error,
      ...(dryRunPlan ? { rotationPlan: dryRunPlan } : {}),
    });
    return code;
  }
  if (outcome.dryRunReport) {
    for (const line of outcome.dryRunReport) io.stdout(`${line}\n`);
    if (dryRunPlan) printPlan(io, globals, dryRunPlan);
    return code;
  }
  io.stdout(
    [
      `Job ${job.id}: ${job.status}${outcome.interrupted ? ' (interrupted)' : ''}`,
      `  re-encrypted ${c.rowsDone} rows (${attempted} attempted, ${c.rowsFailed} failed, ${c.rowsSkipped} already on ${job.targetKeyId}, ${c.rowsConflicted} changed concurrently)`,
      `  ${c.batchesDone}/${c.batchesTotal} batches in ${seconds.toFixed(1)} s — ${rowsPerSecond} rows/s${rowsBefore > 0 ? ` (${rowsThisRun} rows this run)` : ''}`,
      ...(outcome.retire?.retired.length ? [`  retired: ${outcome.retire.retired.join(', ')}`] : []),
      ...(outcome.retire?.kept.some((k) => !k.lateWriters)
        ? [
            `  kept (values remain): ${outcome.retire.kept
              .filter((k) => !k.lateWriters)
              .map((k) => `${k.keyId} (${k.values})`)
              .join(', ')}`,
          ]
        : []),
      ...(outcome.retire?.kept.some((k) => k.lateWriters)
        ? [
            `  kept (live readers still encrypt with it — \`rekey readers\`): ${outcome.retire.kept
              .filter((k) => k.lateWriters)
              .map((k) => `${k.keyId} (${k.lateWriters!.join(', ')})`)
              .join('; ')}`,
          ]
        : []),
      ...(job.error ? [`  error: ${job.error}`] : []),
      ...(c.rowsFailed > 0 ? [`  row errors: rekey status ${job.id}`] : []),
    ].join('\n') + '\n',
  );
  return code;
}
