import type { KeyringKind } from '../crypto/keyring';
import type { Mode } from '../reencrypt/values/modes';

/** Where the job runs: the CLI's job runner (pg, worker threads) or the state machine (SQS → Lambda workers). */
export type Runner = 'cli' | 'state-machine';

/** One finished job of this database, as the planner learns from it (rekey_jobs + its batches' timestamps). */
export interface JobFigures {
  readonly jobId: string;
  readonly runner: Runner;
  readonly mode: Mode;
  readonly keyring: KeyringKind | null;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly rowsDone: number;
  /** Rows of the job's tables when planned (what planning and verify read). */
  readonly rowsScanned: number;
  /** First batch claimed → last batch finished. */
  readonly batchSeconds: number;
  /** Job started → finished (planning, batches, verify, retire). */
  readonly jobSeconds: number;
  readonly finishedAt: Date;
}

export interface Throughput {
  /** Rows per second of the batch phase, all workers together. */
  readonly rowsPerSecond: number;
  /** Rows per second of the planning and verify scans (the rest of the job's time). */
  readonly scanRowsPerSecond: number;
  readonly source: 'history' | 'default';
  /** Which figures, in words: `median of 3 completed jobs (…)` or `docs/performance.md …, no job history`. */
  readonly basis: string;
  readonly jobIds: readonly string[];
}

/**
 * Batch-phase rows/s with one worker at batch size 2000, from docs/performance.md
 * (bench/reencrypt.bench.ts, run of 2026-12-02 on 2 cores — the loaded
 * machine, so a conservative figure). encrypt and migrate were not measured
 * there: they do one full encryption per value like reencrypt, so they take
 * its figure. The hierarchical keyring's row (22.7k) is within the noise of
 * the raw one once its keyset is loaded: the keyring adds only its loads.
 */
export const DEFAULT_ROWS_PER_SECOND: Readonly<Record<Mode, number>> = {
  rewrap: 25_779,
  reencrypt: 19_963,
  encrypt: 19_963,
  migrate: 19_963,
};
/** Same run, 2 workers: rewrap 25,983, reencrypt 22,130 rows/s — on 2 cores a third worker adds nothing measured. */
export const DEFAULT_TWO_WORKER_GAIN: Readonly<Record<Mode, number>> = {
  rewrap: 25_983 / 25_779,
  reencrypt: 22_130 / 19_963,
  encrypt: 22_130 / 19_963,
  migrate: 22_130 / 19_963,
};
/** Planning + verify: 1,000,000 rows in 11.5 s of the 50.3 s rewrap job (same run). */
export const DEFAULT_SCAN_ROWS_PER_SECOND = 87_000;
/** Batch-size curve of the same run (rewrap, 1 worker): 250 → 22,186, 1000 → 23,644, 2000 → 25,779, 5000 → 28,079 rows/s. */
const BATCH_CURVE: readonly (readonly [number, number])[] = [
  [250, 22_186 / 25_779],
  [1000, 23_644 / 25_779],
  [2000, 1],
  [5000, 28_079 / 25_779],
];
export const DEFAULT_SOURCE = 'docs/performance.md (bench:reencrypt, 2026-12-02, 2 cores)';

/** Throughput relative to batch size 2000, interpolated on the measured curve (log batch size), flat outside it. */
export function batchSizeFactor(batchSize: number): number {
  if (batchSize <= BATCH_CURVE[0]![0]) return BATCH_CURVE[0]![1] * Math.max(0.1, batchSize / BATCH_CURVE[0]![0]);
  for (let i = 1; i < BATCH_CURVE.length; i++) {
    const [b1, f1] = BATCH_CURVE[i]!;
    const [b0, f0] = BATCH_CURVE[i - 1]!;
    if (batchSize <= b1) return f0 + ((f1 - f0) * Math.log(batchSize / b0)) / Math.log(b1 / b0);
  }
  return BATCH_CURVE[BATCH_CURVE.length - 1]![1];
}

/** Throughput relative to one worker: the measured two-worker gain, nothing more beyond two (2 cores). */
export function concurrencyFactor(mode: Mode, runner: Runner, concurrency: number): number {
  // Lambda workers each have their own vCPU: they scale until the database or KMS stops them (bounded elsewhere).
  if (runner === 'state-machine') return concurrency;
  return concurrency <= 1 ? 1 : DEFAULT_TWO_WORKER_GAIN[mode];
}

export interface ThroughputRequest {
  readonly runner: Runner;
  readonly mode: Mode;
  readonly keyring: KeyringKind;
  readonly concurrency: number;
  readonly batchSize: number;
}

/** Fewest rows a job must have moved to teach the planner anything (tiny jobs are all start-up). */
export const MIN_CALIBRATION_ROWS = 1000;

/**
 * Rows/s for a request: the median of the most recent finished jobs of the
 * same runner, mode and keyring on this database (up to 5), each scaled from
 * its concurrency and batch size to the request's by the measured curves;
 * with no such job, the defaults above, said so.
 */
export function chooseThroughput(request: ThroughputRequest, history: readonly JobFigures[]): Throughput {
  const relevant = history
    .filter(
      (j) =>
        j.runner === request.runner && j.mode === request.mode && (j.keyring ?? request.keyring) === request.keyring,
    )
    .filter((j) => j.rowsDone >= MIN_CALIBRATION_ROWS && j.batchSeconds > 0)
    .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime())
    .slice(0, 5);
  const scale = (j: JobFigures): number =>
    (concurrencyFactor(request.mode, request.runner, request.concurrency) /
      concurrencyFactor(request.mode, request.runner, j.concurrency)) *
    (batchSizeFactor(request.batchSize) / batchSizeFactor(j.batchSize));
  if (relevant.length > 0) {
    const rates = relevant.map((j) => (j.rowsDone / j.batchSeconds) * scale(j));
    const scans = relevant
      .filter((j) => j.jobSeconds > j.batchSeconds && j.rowsScanned > 0)
      .map((j) => j.rowsScanned / (j.jobSeconds - j.batchSeconds));
    const exact = relevant.every((j) => j.concurrency === request.concurrency && j.batchSize === request.batchSize);
    return {
      rowsPerSecond: median(rates),
      scanRowsPerSecond: scans.length > 0 ? median(scans) : DEFAULT_SCAN_ROWS_PER_SECOND,
      source: 'history',
      basis: `median of the last ${relevant.length} finished ${request.mode} job${relevant.length === 1 ? '' : 's'} (${request.keyring} keyring, ${request.runner}) on this database${exact ? '' : ', scaled to this concurrency and batch size'}`,
      jobIds: relevant.map((j) => j.jobId),
    };
  }
  const rate =
    DEFAULT_ROWS_PER_SECOND[request.mode] *
    concurrencyFactor(request.mode, request.runner, request.concurrency) *
    batchSizeFactor(request.batchSize);
  return {
    rowsPerSecond: rate,
    scanRowsPerSecond: DEFAULT_SCAN_ROWS_PER_SECOND,
    source: 'default',
    basis: `no finished ${request.mode} job with the ${request.keyring} keyring (${request.runner}) on this database yet: default from ${DEFAULT_SOURCE}${request.runner === 'state-machine' ? ', one CLI worker per Lambda worker (the Lambda path is not measured here)' : ''}`,
    jobIds: [],
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
