import { randomBytes } from 'node:crypto';
import type { EnvelopeCipher } from '../../functions/core/crypto/envelope-cipher';
import { formatRawKey } from '../../functions/core/crypto/keyrings/raw';
import type { Sql } from '../../functions/core/ports/sql';
import { runJob } from '../../functions/core/reencrypt/jobs/job-runner';
import { createJob, planJob } from '../../functions/core/reencrypt/jobs/jobs';
import type { Mode } from '../../functions/core/reencrypt/values/modes';
import { startThrowawayPostgres } from '../../functions/local/services/postgres-cluster';

/**
 * What the engine benches (reencrypt, data-api, plan) set up alike: the
 * database, a chain of raw keys, a table of real envelopes and a timed job.
 * One copy, so every bench measures the same phases of the same kind of data.
 */

/** DATABASE_URL when set (a scratch database!), else a throwaway cluster that `stop()` removes. */
export async function benchDatabase(): Promise<{ readonly url: string; stop(): Promise<void> }> {
  const external = process.env.DATABASE_URL;
  if (external) return { url: external, stop: async () => undefined };
  const cluster = await startThrowawayPostgres();
  return { url: cluster.url, stop: () => cluster.stop() };
}

/** One row of a bench's results table: a case, the rows it moved, its seconds (rows/s is derived), a note. */
export interface BenchRow {
  readonly what: string;
  readonly rows: number;
  readonly seconds: number;
  readonly note?: string;
}

/** A raw key. */
export interface RawKey {
  readonly id: string;
  readonly key: Buffer;
}

/** `count` random raw keys kek-v1 … kek-vN: every run rotates to the next one, so no run finds work already done. */
export function rawKeyChain(count: number): RawKey[] {
  return Array.from({ length: count }, (_, i) => ({ id: `kek-v${i + 1}`, key: randomBytes(32) }));
}

/** The raw keyring's environment with `keys[target]` primary and every earlier key for decrypting. */
export function rawKeyringEnv(keys: readonly RawKey[], target: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SECRETS_ENCRYPTION_KEY: formatRawKey(keys[target]!.id, keys[target]!.key),
    SECRETS_ENCRYPTION_KEY_PREVIOUS: keys
      .slice(0, target)
      .map((k) => formatRawKey(k.id, k.key))
      .join(','),
  };
}

/** How `seedEnvelopes` fills a table. */
export interface SeedOptions {
  readonly table: string;
  readonly rows: number;
  /** Rows per INSERT (default 10,000). */
  readonly chunk?: number;
  /** The plaintext of row `id` (default: a ~40-byte random secret, a ~150-byte text envelope). */
  readonly secret?: (id: number) => string;
  /** VACUUM ANALYZE afterwards, so the planner sees the table's real size (default false). */
  readonly analyze?: boolean;
}

/** Rows 1…rows of `table (id bigint, secret text)`, each secret encrypted by `cipher` bound to its row. */
export async function seedEnvelopes(sql: Sql, cipher: EnvelopeCipher, options: SeedOptions): Promise<void> {
  const { table, rows, chunk = 10_000 } = options;
  const secret = options.secret ?? (() => `sk-${randomBytes(18).toString('base64url')}`);
  for (let from = 1; from <= rows; from += chunk) {
    const ids: string[] = [];
    const values: string[] = [];
    for (let id = from; id < Math.min(from + chunk, rows + 1); id++) {
      ids.push(String(id));
      values.push(await cipher.encrypt(secret(id), { table, column: 'secret', rowId: String(id) }));
    }
    await sql.query(`INSERT INTO ${table} SELECT * FROM unnest($1::bigint[], $2::text[])`, [ids, values]);
  }
  if (options.analyze) await sql.query(`VACUUM ANALYZE ${table}`);
}

type EngineDeps = Parameters<typeof runJob>[0];

/** One job to time. */
export interface TimedJobOptions {
  readonly mode: Mode;
  readonly targetKeyId: string;
  readonly batchSize: number;
  /** Batches the bench process runs at once (default 2). */
  readonly concurrency?: number;
  /** Started once the job is planned (other worker processes); the job is finished when it settles too. */
  readonly alongside?: (jobId: string) => Promise<unknown> | undefined;
}

/** A job's outcome and its two timings. */
export interface TimedJob {
  readonly outcome: Awaited<ReturnType<typeof runJob>>;
  /** From the end of planning to the last batch: the figure the benches compare. */
  readonly batchSeconds: number;
  /** The whole job: create, plan, batches, verify and finalize. */
  readonly wholeSeconds: number;
}

/** Creates, plans and runs one job to the end, timing the batch phase and the whole job. */
export async function runTimedJob(deps: EngineDeps, options: TimedJobOptions): Promise<TimedJob> {
  const started = process.hrtime.bigint();
  const job = await createJob(deps, {
    mode: options.mode,
    targetKeyId: options.targetKeyId,
    batchSize: options.batchSize,
    requestedBy: 'bench',
  });
  await planJob(deps, job.id);
  const planned = process.hrtime.bigint();
  const alongside = options.alongside?.(job.id);
  let batchPhaseEnd = 0n;
  const outcome = await runJob(deps, job.id, {
    concurrency: options.concurrency ?? 2,
    onProgress: (p) => {
      if (p.batchesDone === p.batchesTotal) batchPhaseEnd = process.hrtime.bigint();
    },
  });
  await alongside;
  const finished = process.hrtime.bigint();
  return {
    outcome,
    batchSeconds: Number((batchPhaseEnd || finished) - planned) / 1e9,
    wholeSeconds: Number(finished - started) / 1e9,
  };
}
