/**
 * `npm run demo` — rekey on the situations an operator meets, with nothing to
 * set up: a throwaway PostgreSQL (DATABASE_URL if you give one — a scratch
 * database, the demo creates and drops its own tables; else an initdb/pg_ctl
 * cluster; else embedded PGlite) seeded with three tables (scripts/demo/seed.ts):
 * rk1 secrets under kek-v1, a plaintext column to encrypt, and Fernet tokens
 * of an older system under its old key. It prints `rekey plan` for each job,
 * runs them — encrypt, rotate kek-v1 → kek-v2, rotate the Fernet tokens in
 * place to the new key — then verify, the key catalog, and one table of plan
 * against outcome. The jobs run as on AWS — the synthesized state machine
 * with the real Lambda handlers, batches through SQS — when moto_server is
 * installed (it stands in for SQS) and the database is a real server;
 * otherwise through the engine's job runner (`rekey reencrypt`). The demo
 * says which. Keys are generated in memory for the run and never printed.
 *
 *   npm run demo                      # 50,000 rk1 rows, 10,000 plaintext and 10,000 Fernet rows
 *   npm run demo -- --rows 200000     # rk1 rows (the other two tables get a fifth each)
 *   npm run demo -- --job-runner      # skip the state machine
 *   npm run demo -- --pglite          # embedded PGlite even when PostgreSQL is installed
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printPlan } from '../functions/cli/commands/plan';
import { main } from '../functions/cli/main';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { formatRawKey } from '../functions/core/crypto/keyrings/raw';
import { LOCAL_RUNTIME_SHAPE, PIPELINE_SHAPE, type RotationPlan } from '../functions/core/plan';
import type { SqlPool } from '../functions/core/ports/sql';
import { migrate } from '../functions/core/schema/migrate';
import { motoServerAvailable, startMotoServer } from '../functions/local/services/moto-server';
import { findPostgresBinDir, startThrowawayPostgres } from '../functions/local/services/postgres-cluster';
import { startPgliteServer } from '../functions/local/services/pglite-server';
import type { StateMachineDefinition } from '../lib/synthesize-definition';
import { countKmsCalls, formatOutcomes, lastJob, type JobOutcome } from './demo/outcome';
import { DEMO_TABLES, demoJobs, makeKeys, REGISTRY, seedTables, type DemoJob } from './demo/seed';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg('--rows') ?? 50_000);
/** Workers: the local pipeline's SQS pollers, the CLI's threads; the plans are made for the same number. */
const CONCURRENCY = 2;

// This machine's Node 20 is what the project supports; the SDK's notice about Node 22 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface DemoDatabase {
  readonly url: string;
  readonly kind: string;
  /** A server that takes concurrent connections (not PGlite's one shared session). */
  readonly concurrent: boolean;
  stop(): Promise<void>;
}

async function startDatabase(): Promise<DemoDatabase> {
  const pglite = process.argv.includes('--pglite');
  if (process.env.DATABASE_URL && !pglite)
    return { url: process.env.DATABASE_URL, kind: 'DATABASE_URL', concurrent: true, stop: async () => undefined };
  if (findPostgresBinDir() && !pglite)
    return { ...(await startThrowawayPostgres()), kind: 'a throwaway PostgreSQL cluster (initdb)', concurrent: true };
  return { ...(await startPgliteServer()), kind: 'embedded PGlite', concurrent: false };
}

const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (t: string) => `\x1b[1m${t}\x1b[0m` : (t: string) => t;
const say = (text: string): void => void process.stdout.write(`\n${bold(text)}\n`);
const out = (text: string): void => void process.stdout.write(`${text}\n`);
const count = (n: number): string => n.toLocaleString('en-US');

async function run(): Promise<number> {
  if (!Number.isInteger(ROWS) || ROWS < 1) throw new Error(`--rows must be a whole number ≥ 1, got ${arg('--rows')}`);
  const kmsCalls = countKmsCalls();
  const db = await startDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'rekey-demo-'));
  const sql = createPgSql({ connectionString: db.url, max: 1 });
  const jobs = demoJobs(ROWS);
  try {
    say(`1. Database: ${db.kind}; seeding the situations an operator meets`);
    for (const job of jobs) out(`  ${job.table}: ${count(job.rows)} rows — ${describe(job)}`);
    const keys = makeKeys();
    await migrate(sql);
    await seedTables(sql, keys, jobs);
    writeFileSync(join(dir, 'rekey.config.json'), JSON.stringify(REGISTRY, null, 2));

    // Phase 2 of the runbooks: the new keys are primary, the old ones kept as previous / fallback.
    const keyEnv = {
      SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', keys.kekV2),
      SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', keys.kekV1),
      ENCRYPTION_KEY: keys.fernetNew,
      ENCRYPTION_KEY_FALLBACK: keys.fernetOld,
    };
    const env = { ...process.env, ...keyEnv, DATABASE_URL: db.url, REKEY_ACTOR: 'demo' };
    const io = {
      stdout: (t: string) => void process.stdout.write(t),
      stderr: (t: string) => void process.stderr.write(t),
      isTTY: false,
      env,
      cwd: dir,
    };
    const rekey = async (...args: string[]): Promise<number> => {
      out(`\n$ rekey ${args.join(' ')}`);
      return main(['--config', join(dir, 'rekey.config.json'), ...args], io);
    };

    const why = process.argv.includes('--job-runner')
      ? '--job-runner was given'
      : !motoServerAvailable()
        ? 'moto_server is not installed (pip install "moto[server]"; it stands in for SQS)'
        : !db.concurrent
          ? 'PGlite is one shared session, and the pipeline runs its handlers and workers side by side on separate connections'
          : undefined;
    // The plans are made for the runtime that runs the jobs: the local state-machine runtime, not AWS.
    const runner = why === undefined ? 'local-state-machine' : 'cli';
    const concurrency = db.concurrent ? CONCURRENCY : 1;

    // `rekey plan` only previews the catalog, and a Fernet table needs its Fernet keys registered: the catalog is synced first, as any real command does.
    say('2. The key catalog, registered from the environment (new keys primary, old ones rotating)');
    await rekey('keys', 'list');

    say(
      `3. The plan of each job (rekey plan: a dry run, changes nothing), for the ${runner === 'cli' ? 'CLI job runner' : 'state machine'}`,
    );
    const plans: RotationPlan[] = [];
    for (const job of jobs) {
      const args = [
        'plan',
        '--mode',
        job.mode,
        '-t',
        job.table,
        '--runner',
        runner,
        '--concurrency',
        String(concurrency),
      ];
      out(`\n$ rekey ${args.join(' ')}`);
      const plan = await planOf(['--config', join(dir, 'rekey.config.json'), '--json', '--quiet', ...args], io);
      printPlan(io, { json: false }, plan);
      plans.push(plan);
    }

    say(
      why === undefined
        ? '4. Run the jobs through the synthesized state machine (local runtime: real handlers, SQS in moto_server)'
        : `4. Run the jobs through the engine's job runner (rekey reencrypt), because ${why}`,
    );
    const pipeline = why === undefined ? await startPipeline(db.url, sql, keyEnv) : undefined;
    const outcomes: JobOutcome[] = [];
    let failed = 0;
    try {
      for (const [i, job] of jobs.entries()) {
        out(`\n${job.label}: --mode ${job.mode} on ${job.table}`);
        const calls = kmsCalls();
        const started = Date.now();
        const code = pipeline
          ? await pipeline.run(job)
          : await rekey('reencrypt', '--mode', job.mode, '-t', job.table, '--concurrency', String(concurrency));
        const wallSeconds = (Date.now() - started) / 1000;
        const done = await lastJob(sql);
        failed ||= code;
        outcomes.push({
          job,
          plan: plans[i]!,
          jobId: done.id,
          status: done.status,
          rowsDone: done.rowsDone,
          rowsFailed: done.rowsFailed,
          batchSeconds: done.batchSeconds,
          wallSeconds,
          kmsCalls: kmsCalls() - calls,
          retired: done.retired,
        });
      }
    } finally {
      await pipeline?.stop();
    }

    say('5. Verify, decrypting every value (prints counts, never plaintext)');
    const verified = await rekey('verify', '--decrypt');
    say('6. Key catalog and jobs');
    await rekey('keys', 'list');
    await rekey('status');

    say('7. Plan against outcome');
    for (const line of formatOutcomes(outcomes)) out(line);
    out(
      [
        "rows/s: rows ÷ the job row's started → finished. KMS calls: the plan's count / the requests this process sent (counted at KMSClient.send; the raw keyring makes none).",
        "job s: the plan's batches + planning/verify scans / the job row's started → finished.",
        `total s: the plan's whole duration / the wall clock of the ${runner === 'cli' ? '`rekey reencrypt`' : 'run (queues, handlers, execution)'}; ratio: predicted ÷ measured (within 2× between 0.50× and 2.00×).`,
        `The plans model the ${runner === 'cli' ? 'CLI job runner' : `local runtime (its ${LOCAL_RUNTIME_SHAPE.waitMs} ms waits, one Node thread); on AWS (rekey plan --runner state-machine) the same jobs wait ≥ ${PIPELINE_SHAPE.progress.minWaitSeconds} s between progress polls`} — each plan's "time model" line says so.`,
      ].join('\n'),
    );
    for (const table of DEMO_TABLES) await sql.query(`DROP TABLE ${table}`);
    return failed || verified;
  } finally {
    await sql.close();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function describe(job: DemoJob): string {
  if (job.mode === 'encrypt') return 'a plaintext column (email) to encrypt into email_encrypted, clearing the source';
  return job.table === REGISTRY.tables[2]!.name
    ? 'Fernet tokens from an older system under its old key (ENCRYPTION_KEY_FALLBACK), to rotate in place to ENCRYPTION_KEY'
    : 'rk1 secrets (~150 bytes) under kek-v1, to rotate to kek-v2';
}

/** `rekey plan --json`, parsed: the CLI's own planning, printed by the demo with the CLI's printPlan. */
async function planOf(
  argv: string[],
  io: { env: NodeJS.ProcessEnv; cwd: string; stderr: (t: string) => void },
): Promise<RotationPlan> {
  let json = '';
  const code = await main(argv, { ...io, isTTY: false, stdout: (t: string) => void (json += t) });
  if (code !== 0) throw new Error(`rekey ${argv.join(' ')} exited ${code}`);
  return JSON.parse(json) as RotationPlan;
}

/**
 * The jobs as they run on AWS: the state machine definition from `cdk synth`
 * (synthesized once), executed locally with the real Lambda handlers, batches
 * through SQS (moto_server) into the real worker handler. Progress is read
 * from the job row, as the state machine's CheckProgress does.
 */
async function startPipeline(
  url: string,
  sql: SqlPool,
  keyEnv: Record<string, string>,
): Promise<{ run(job: DemoJob): Promise<number>; stop(): Promise<void> }> {
  // Loaded only on this path: the CDK synthesis behind it is the heaviest import of the project.
  const { runLocalPipeline } = await import('../functions/local/pipeline');
  const { synthesizeStateMachineDefinition } = await import('../lib/synthesize-definition');
  out('synthesizing the CDK app for the state machine definition...');
  const definition: StateMachineDefinition = synthesizeStateMachineDefinition();
  // Started after the synthesis, so a synthesis error leaves no server behind.
  const moto = await startMotoServer();
  const run = async (job: DemoJob): Promise<number> => {
    let last = '';
    const report = async (): Promise<void> => {
      const { rows } = await sql.query<{ status: string; rows_total: string; rows_done: string; rows_failed: string }>(
        'SELECT status, rows_total, rows_done, rows_failed FROM rekey_jobs WHERE NOT dry_run ORDER BY created_at DESC LIMIT 1',
      );
      const row = rows[0];
      if (!row) return;
      // Before planning ends the job has no row count yet: say so rather than "0/0".
      const line =
        row.status === 'pending' || row.status === 'planning'
          ? `Progress: planning (job ${row.status})`
          : `Progress: ${row.rows_done}/${row.rows_total} rows, ${row.rows_failed} failed (job ${row.status})`;
      if (line !== last) out(line);
      last = line;
    };
    const ticker = setInterval(() => void report().catch(() => undefined), 500);
    try {
      const result = await runLocalPipeline({
        input: { mode: job.mode, tables: [job.table] },
        databaseUrl: url,
        sqsEndpoint: moto.endpoint,
        registry: REGISTRY,
        keyEnv,
        definition,
        workers: CONCURRENCY,
      });
      clearInterval(ticker);
      await report();
      const states = result.history.filter((s, i, all) => all.indexOf(s) === i);
      out(`states: ${states.join(' → ')}`);
      out(
        `SQS: ${result.worker.messages} batch messages in ${result.worker.invocations} worker invocations, ${result.deadLetters} in the DLQ`,
      );
      if (result.error) out(`  ended ${result.error.name}: ${result.error.message}`);
      return result.error ? 1 : 0;
    } finally {
      clearInterval(ticker);
    }
  };
  return { run, stop: () => moto.stop() };
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
