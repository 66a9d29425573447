/**
 * `npm run demo` — rekey's main job on an embedded default, with nothing to
 * set up: a throwaway PostgreSQL (DATABASE_URL if you give one — a scratch
 * database, the demo creates and drops its own table; else an initdb/pg_ctl
 * cluster; else embedded PGlite), 50,000 secrets of ~150 bytes encrypted
 * under kek-v1, then a dry run, the rotation to kek-v2, verify, and the key
 * catalog. The rotation runs as on AWS — the synthesized state machine with
 * the real Lambda handlers, batches through SQS — when moto_server is
 * installed (it stands in for SQS) and the database is a real server;
 * otherwise through the engine's job runner (`rekey reencrypt`). The demo
 * says which. Keys are generated in memory for the run and never printed.
 *
 *   npm run demo                      # 50,000 rows
 *   npm run demo -- --rows 200000
 *   npm run demo -- --job-runner      # skip the state machine
 *   npm run demo -- --pglite          # embedded PGlite even when PostgreSQL is installed
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../functions/cli/main';
import { createPgSql } from '../functions/core/adapters/pg/sql';
import { EnvelopeCipher } from '../functions/core/crypto/envelope-cipher';
import { formatRawKey, RawKeyring } from '../functions/core/crypto/keyrings/raw';
import type { SqlPool } from '../functions/core/ports/sql';
import { migrate } from '../functions/core/schema/migrate';
import { motoServerAvailable, startMotoServer } from '../functions/local/services/moto-server';
import { findPostgresBinDir, startThrowawayPostgres } from '../functions/local/services/postgres-cluster';
import { startPgliteServer } from '../functions/local/services/pglite-server';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg('--rows') ?? 50_000);
const TABLE = 'demo_llm_providers';
const REGISTRY = { tables: [{ name: TABLE, idColumn: 'id', columns: ['api_key_encrypted'] }] };

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
  if (process.env.DATABASE_URL && !pglite) return { url: process.env.DATABASE_URL, kind: 'DATABASE_URL', concurrent: true, stop: async () => undefined };
  if (findPostgresBinDir() && !pglite) return { ...(await startThrowawayPostgres()), kind: 'a throwaway PostgreSQL cluster (initdb)', concurrent: true };
  return { ...(await startPgliteServer()), kind: 'embedded PGlite', concurrent: false };
}

const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (t: string) => `\x1b[1m${t}\x1b[0m` : (t: string) => t;
const say = (text: string): void => void process.stdout.write(`\n${bold(text)}\n`);
const out = (text: string): void => void process.stdout.write(`${text}\n`);

async function run(): Promise<number> {
  if (!Number.isInteger(ROWS) || ROWS < 1) throw new Error(`--rows must be a whole number ≥ 1, got ${arg('--rows')}`);
  const db = await startDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'rekey-demo-'));
  const sql = createPgSql({ connectionString: db.url, max: 1 });
  try {
    say(`1. Database: ${db.kind}; seeding ${ROWS.toLocaleString('en-US')} secrets (~150 bytes each) encrypted under kek-v1`);
    const kekV1 = randomBytes(32);
    const kekV2 = randomBytes(32);
    await seed(sql, kekV1);
    writeFileSync(join(dir, 'rekey.config.json'), JSON.stringify(REGISTRY, null, 2));

    // Phase 2 of the runbook: the new key is primary, the old one kept as previous.
    const keyEnv = { SECRETS_ENCRYPTION_KEY: formatRawKey('kek-v2', kekV2), SECRETS_ENCRYPTION_KEY_PREVIOUS: formatRawKey('kek-v1', kekV1) };
    const env = { ...process.env, ...keyEnv, DATABASE_URL: db.url, REKEY_ACTOR: 'demo' };
    const io = { stdout: (t: string) => void process.stdout.write(t), stderr: (t: string) => void process.stderr.write(t), isTTY: false, env, cwd: dir };
    const rekey = async (...args: string[]): Promise<number> => {
      out(`\n$ rekey ${args.join(' ')}`);
      return main(['--config', join(dir, 'rekey.config.json'), ...args], io);
    };

    say('2. Dry run (changes nothing)');
    const dry = await rekey('reencrypt', '--dry-run');

    const why = process.argv.includes('--job-runner')
      ? '--job-runner was given'
      : !motoServerAvailable()
        ? 'moto_server is not installed (pip install "moto[server]"; it stands in for SQS)'
        : !db.concurrent
          ? 'PGlite is one shared session, and the pipeline runs its handlers and workers side by side on separate connections'
          : undefined;
    let rotated: number;
    if (why === undefined) {
      say('3. Rotate kek-v1 → kek-v2 through the synthesized state machine (local runtime: real handlers, SQS in moto_server)');
      rotated = await viaStateMachine(db.url, sql, keyEnv);
    } else {
      say(`3. Rotate kek-v1 → kek-v2 through the engine's job runner (rekey reencrypt), because ${why}`);
      rotated = await rekey('reencrypt', '--concurrency', db.concurrent ? '2' : '1');
    }

    say('4. Verify, decrypting every value (prints counts, never plaintext)');
    const verified = await rekey('verify', '--decrypt');
    say('5. Key catalog and jobs');
    await rekey('keys', 'list');
    await rekey('status');
    await sql.query(`DROP TABLE ${TABLE}`);
    return dry || rotated || verified;
  } finally {
    await sql.close();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function seed(sql: SqlPool, kekV1: Buffer): Promise<void> {
  await migrate(sql);
  await sql.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await sql.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, name text, api_key_encrypted text)`);
  const cipher = await EnvelopeCipher.create({ keyring: new RawKeyring([{ id: 'kek-v1', key: kekV1 }]) });
  for (let from = 1; from <= ROWS; from += 10_000) {
    const ids: string[] = [];
    const values: string[] = [];
    for (let id = from; id < Math.min(from + 10_000, ROWS + 1); id++) {
      ids.push(String(id));
      // ~150 bytes, like the provider API keys and tokens the runbooks rotate.
      values.push(await cipher.encrypt(`sk-${randomBytes(110).toString('base64url')}`, { table: TABLE, column: 'api_key_encrypted', rowId: String(id) }));
    }
    await sql.query(`INSERT INTO ${TABLE} SELECT id, 'provider-' || id, v FROM unnest($1::bigint[], $2::text[]) AS t(id, v)`, [ids, values]);
  }
}

/**
 * The rotation as it runs on AWS: the state machine definition from
 * `cdk synth`, executed locally with the real Lambda handlers, batches through
 * SQS (moto_server) into the real worker handler. Progress is read from the
 * job row, as the state machine's CheckProgress does.
 */
async function viaStateMachine(url: string, sql: SqlPool, keyEnv: Record<string, string>): Promise<number> {
  // Loaded only on this path: the CDK synthesis behind it is the heaviest import of the project.
  const { runLocalPipeline } = await import('../functions/local/pipeline');
  const moto = await startMotoServer();
  const started = Date.now();
  let last = '';
  const report = async (): Promise<void> => {
    const { rows } = await sql.query<{ id: string; status: string; rows_total: string; rows_done: string; rows_failed: string }>(
      'SELECT id, status, rows_total, rows_done, rows_failed FROM rekey_jobs WHERE NOT dry_run ORDER BY created_at DESC LIMIT 1',
    );
    const job = rows[0];
    if (!job) return;
    // Before planning ends the job has no row count yet: say so rather than "0/0".
    const line =
      job.status === 'pending' || job.status === 'planning'
        ? `Progress: planning (job ${job.status})`
        : `Progress: ${job.rows_done}/${job.rows_total} rows, ${job.rows_failed} failed (job ${job.status})`;
    if (line !== last) out(line);
    last = line;
  };
  const ticker = setInterval(() => void report().catch(() => undefined), 500);
  try {
    out('synthesizing the CDK app for the state machine definition...');
    const run = await runLocalPipeline({ input: { mode: 'rewrap' }, databaseUrl: url, sqsEndpoint: moto.endpoint, registry: REGISTRY, keyEnv });
    clearInterval(ticker);
    await report();
    const { rows } = await sql.query<{ id: string; status: string; rows_done: string; started_at: Date; finished_at: Date | null }>(
      'SELECT id, status, rows_done, started_at, finished_at FROM rekey_jobs WHERE NOT dry_run ORDER BY created_at DESC LIMIT 1',
    );
    const job = rows[0]!;
    const seconds = ((job.finished_at?.getTime() ?? Date.now()) - job.started_at.getTime()) / 1000;
    const states = run.history.filter((s, i, all) => all.indexOf(s) === i);
    out(`states: ${states.join(' → ')}`);
    out(`SQS: ${run.worker.messages} batch messages in ${run.worker.invocations} worker invocations, ${run.deadLetters} in the DLQ`);
    out(`Job ${job.id}: ${job.status}`);
    out(`  re-encrypted ${job.rows_done} rows in ${seconds.toFixed(1)} s — ${Math.round(Number(job.rows_done) / Math.max(seconds, 0.001))} rows/s (whole execution ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    const retired = (run.output as { finalize?: { retiredKeyIds?: string[] } } | undefined)?.finalize?.retiredKeyIds ?? [];
    out(run.error ? `  ended ${run.error.name}: ${run.error.message}` : `  retired: ${retired.join(', ') || 'none'}`);
    return run.error ? 1 : 0;
  } finally {
    clearInterval(ticker);
    await moto.stop();
  }
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
